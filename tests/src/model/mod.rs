//! A scripted model server for running the real Claude Code offline: it speaks the parts of the
//! Anthropic Messages API that Claude Code uses (`POST /v1/messages`, streaming or not, and
//! `count_tokens`) on loopback, logs every request, and answers from a script chosen by the
//! person's message ([`script`]). Point Claude Code at it with `ANTHROPIC_BASE_URL`.

pub mod request;
pub mod script;
pub mod sse;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Logged {
    pub path: String,
    pub body: Value,
}

/// The usage one main-loop answer reported, and the turn its request was on.
#[derive(Debug, Clone, Copy)]
pub struct Spent {
    pub turn_id: Option<Uuid>,
    pub usage: sse::Reported,
}

#[derive(Clone, Default)]
struct Shared {
    log: Arc<Mutex<Vec<Logged>>>,
    /// Every main-loop answer's usage, in order.
    spent: Arc<Mutex<Vec<Spent>>>,
    stop: CancellationToken,
}

/// A running server; stops when dropped.
pub struct ModelServer {
    pub base_url: String,
    shared: Shared,
}

impl ModelServer {
    pub async fn start() -> ModelServer {
        let shared = Shared::default();
        let app = axum::Router::new()
            .route("/v1/messages", post(messages))
            .route("/v1/messages/count_tokens", post(count_tokens))
            .fallback(other)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = shared.stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        ModelServer { base_url, shared }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.shared.log.lock().expect("log").clone()
    }

    /// The `messages` the model was given with the first request of `turn`, as JSON text:
    /// the whole conversation it saw then, earlier prompts, replies and tool calls included
    /// (search it for a text with [`json_text`]). Empty when the turn never reached the model.
    pub fn context_of(&self, turn: Uuid) -> String {
        self.requests()
            .iter()
            .filter(|r| r.path == "/v1/messages" && request::is_main_loop(&r.body))
            .find(|r| request::turn_view(&r.body).is_some_and(|v| v.turn_id == turn && v.step == 0))
            .map(|r| r.body["messages"].to_string())
            .unwrap_or_default()
    }

    /// The usage every main-loop answer reported, in order (answers to side requests such as
    /// a title are left out: they are not part of the conversation).
    pub fn spent(&self) -> Vec<Spent> {
        self.shared.spent.lock().expect("spent").clone()
    }

    /// The sum of the usage the answers on `turn` reported.
    pub fn spent_on(&self, turn: Uuid) -> sse::Reported {
        let spent = self.spent();
        sse::Reported::sum(
            spent
                .iter()
                .filter(|s| s.turn_id == Some(turn))
                .map(|s| &s.usage),
        )
    }

    /// The person's message of each turn as the model first received it, in arrival order: one
    /// entry per main-loop request that opened a turn (a turn sent twice shows up twice).
    pub fn prompts(&self) -> Vec<(Uuid, String)> {
        self.requests()
            .iter()
            .filter(|r| r.path == "/v1/messages" && request::is_main_loop(&r.body))
            .filter_map(|r| request::turn_view(&r.body))
            .filter(|v| v.step == 0)
            .map(|v| (v.turn_id, v.message))
            .collect()
    }
}

/// `text` as it appears inside a JSON string (quotes and line breaks escaped).
pub fn json_text(text: &str) -> String {
    let quoted = Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

fn log(shared: &Shared, uri: &Uri, body: &Value) {
    let path = uri.path().to_owned();
    shared.log.lock().expect("log").push(Logged {
        path,
        body: body.clone(),
    });
}

async fn messages(State(shared): State<Shared>, uri: Uri, Json(req): Json<Value>) -> Response {
    log(&shared, &uri, &req);
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("scripted");
    let streaming = req.get("stream").and_then(Value::as_bool) == Some(true);
    // Claude Code compacting the conversation: a summary, not a step of any turn.
    if request::is_compaction(&req) {
        let view = request::turn_view(&req);
        let answer = sse::Answer::text(script::summary(view.as_ref()));
        return play_answer(answer, model, sse::Reported::nth(0), streaming);
    }
    let view = request::is_main_loop(&req)
        .then(|| request::turn_view(&req))
        .flatten();
    let play = match &view {
        Some(v) => script::play(v),
        None => script::Play::Answer(sse::Answer::text("Paliadin chat")),
    };
    let play = match play {
        script::Play::Later(delay, answer) => {
            tokio::time::sleep(delay).await;
            script::Play::Answer(answer)
        }
        script::Play::Flaky(n, failure, then) => {
            let turn = view.as_ref().map(|v| v.turn_id);
            if requests_on(&shared, turn) <= n {
                script::Play::Fail(failure)
            } else {
                *then
            }
        }
        other => other,
    };
    if let script::Play::Fail(f) = &play {
        return fail(f);
    }
    let usage = {
        let mut spent = shared.spent.lock().expect("spent");
        let mut usage = sse::Reported::nth(spent.len() as i64 + 1);
        if view.as_ref().is_some_and(script::fills_context) {
            usage.cache_read += script::FULL_CONTEXT;
        }
        if request::is_main_loop(&req) && matches!(play, script::Play::Answer(_)) {
            spent.push(Spent {
                turn_id: view.as_ref().map(|v| v.turn_id),
                usage,
            });
        }
        usage
    };
    match (play, streaming) {
        (script::Play::Answer(a), streaming) => play_answer(a, model, usage, streaming),
        (script::Play::Later(..) | script::Play::Fail(_) | script::Play::Flaky(..), _) => {
            unreachable!("resolved above")
        }
        (script::Play::Hang, _) => {
            let first = futures::stream::once(futures::future::ready(Ok::<_, std::io::Error>(
                sse::hang_start(model),
            )));
            let stop = shared.stop.clone();
            let never = futures::stream::once(async move {
                stop.cancelled().await;
                Ok::<_, std::io::Error>(String::new())
            });
            sse_response(Body::from_stream(first.chain(never)))
        }
    }
}

/// One answer, as a JSON body or streamed.
fn play_answer(a: sse::Answer, model: &str, usage: sse::Reported, streaming: bool) -> Response {
    if !streaming {
        return Json(a.to_json(model, usage)).into_response();
    }
    let frames = a.to_sse_frames(model, usage);
    sse_response(Body::from_stream(futures::stream::iter(
        frames.into_iter().map(Ok::<_, std::io::Error>),
    )))
}

/// Main-loop requests logged so far on `turn`'s first step (retries of one request count).
fn requests_on(shared: &Shared, turn: Option<Uuid>) -> usize {
    let log = shared.log.lock().expect("log");
    log.iter()
        .filter(|r| r.path == "/v1/messages" && request::is_main_loop(&r.body))
        .filter_map(|r| request::turn_view(&r.body))
        .filter(|v| Some(v.turn_id) == turn && v.step == 0)
        .count()
}

/// An error response as the Messages API sends it.
fn fail(f: &script::Failure) -> Response {
    let status = StatusCode::from_u16(f.status).expect("status");
    let body = json!({"type": "error", "error": {"type": f.kind, "message": f.message}});
    (status, Json(body)).into_response()
}

fn sse_response(body: Body) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
        .expect("response")
}

async fn count_tokens(State(shared): State<Shared>, uri: Uri, Json(req): Json<Value>) -> Response {
    log(&shared, &uri, &req);
    Json(json!({"input_tokens": 100})).into_response()
}

async fn other(State(shared): State<Shared>, uri: Uri) -> Response {
    log(&shared, &uri, &Value::Null);
    (
        StatusCode::NOT_FOUND,
        Json(json!({"type": "error", "error": {"type": "not_found_error", "message": "not here"}})),
    )
        .into_response()
}

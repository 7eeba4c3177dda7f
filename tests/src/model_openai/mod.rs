//! A scripted OpenAI model for running the real Codex CLI offline: it speaks the Responses API
//! that Codex 0.171.0 uses (`POST /v1/responses`, streaming) on loopback, logs every request,
//! and answers from a script chosen by the person's message ([`script`]). Point Codex at it
//! with a `[model_providers.<name>]` of `base_url = "<base_url>/v1"` and
//! `wire_api = "responses"` ([`crate::codex`] writes that config).

pub mod request;
pub mod script;
pub mod sse;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
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
    /// The request's `Authorization` header (the key Codex sent).
    pub authorization: Option<String>,
}

/// The usage one answer reported, and the turn its request was on.
#[derive(Debug, Clone, Copy)]
pub struct Spent {
    pub turn_id: Option<Uuid>,
    pub usage: sse::Usage,
}

#[derive(Clone, Default)]
struct Shared {
    log: Arc<Mutex<Vec<Logged>>>,
    spent: Arc<Mutex<Vec<Spent>>>,
    stop: CancellationToken,
}

/// A running server; stops when dropped.
pub struct OpenAiModel {
    /// `http://127.0.0.1:<port>` (Codex's `base_url` is this plus `/v1`).
    pub base_url: String,
    shared: Shared,
}

impl OpenAiModel {
    pub async fn start() -> OpenAiModel {
        let shared = Shared::default();
        let app = axum::Router::new()
            .route("/v1/responses", post(responses))
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
        OpenAiModel { base_url, shared }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.shared.log.lock().expect("log").clone()
    }

    /// The person's message of each turn as the model first received it, in arrival order: one
    /// entry per request that opened a turn (a turn sent twice shows up twice).
    pub fn prompts(&self) -> Vec<(Uuid, String)> {
        self.requests()
            .iter()
            .filter(|r| r.path == "/v1/responses" && request::is_main_loop(&r.body))
            .filter_map(|r| request::turn_view(&r.body))
            .filter(|v| v.step == 0 && !v.stop_blocked && !v.summarised)
            .map(|v| (v.turn_id, v.message))
            .collect()
    }

    /// The whole `input` of the first request of `turn`, as JSON text (earlier turns
    /// included); empty when the turn never reached the model.
    pub fn context_of(&self, turn: Uuid) -> String {
        self.requests()
            .iter()
            .filter(|r| r.path == "/v1/responses")
            .find(|r| request::turn_view(&r.body).is_some_and(|v| v.turn_id == turn && v.step == 0))
            .map(|r| r.body["input"].to_string())
            .unwrap_or_default()
    }

    /// The usage every answer reported, in order.
    pub fn spent(&self) -> Vec<Spent> {
        self.shared.spent.lock().expect("spent").clone()
    }
}

impl Drop for OpenAiModel {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

fn log(shared: &Shared, uri: &Uri, headers: &HeaderMap, body: &Value) {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    shared.log.lock().expect("log").push(Logged {
        path: uri.path().to_owned(),
        body: body.clone(),
        authorization,
    });
}

async fn responses(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    Json(req): Json<Value>,
) -> Response {
    log(&shared, &uri, &headers, &req);
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("scripted")
        .to_owned();
    let view = request::turn_view(&req);
    // Codex compacting the conversation: a summary, not a step of any turn.
    if request::is_compaction(&req) {
        let answer = sse::Answer::text(script::summary(view.as_ref()));
        let frames = answer.to_sse_frames(&model, sse::Usage::nth(0));
        return sse_response(Body::from_stream(futures::stream::iter(
            frames.into_iter().map(Ok::<_, std::io::Error>),
        )));
    }
    let play = match &view {
        Some(v) => script::play(v),
        None => script::Play::Answer(sse::Answer::text("Not a Paliadin turn.")),
    };
    match play {
        script::Play::Fail(f) => fail(&f),
        script::Play::Answer(a) => {
            let usage = {
                let mut spent = shared.spent.lock().expect("spent");
                let mut usage = sse::Usage::nth(spent.len() as i64 + 1);
                if view.as_ref().is_some_and(script::fills_context) {
                    usage.input += script::FULL_CONTEXT;
                }
                spent.push(Spent {
                    turn_id: view.as_ref().map(|v| v.turn_id),
                    usage,
                });
                usage
            };
            let frames = a.to_sse_frames(&model, usage);
            sse_response(Body::from_stream(futures::stream::iter(
                frames.into_iter().map(Ok::<_, std::io::Error>),
            )))
        }
        script::Play::Hang => {
            let first = futures::stream::once(futures::future::ready(Ok::<_, std::io::Error>(
                sse::hang_start(&model),
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

/// An error response as the OpenAI API sends it.
fn fail(f: &script::Failure) -> Response {
    let status = StatusCode::from_u16(f.status).expect("status");
    let body = json!({"error": {"message": f.message, "type": f.kind, "param": null,
                                "code": f.code}});
    (status, Json(body)).into_response()
}

fn sse_response(body: Body) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
        .expect("response")
}

async fn other(State(shared): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    log(&shared, &uri, &headers, &Value::Null);
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": {"message": "not here", "type": "invalid_request_error"}})),
    )
        .into_response()
}

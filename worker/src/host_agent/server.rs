//! The request loop of `paliadin-shim serve`: read bounded lines, validate, dispatch, answer.
//!
//! Every request is validated before anything runs: a known op, an integer id, a session name
//! that passes [`SessionName::parse`], a message that passes [`UserMessage::parse`]. Nothing is
//! ever handed to a shell: sessions and messages reach tmux through [`TmuxHost`], which passes
//! user text through a buffer on stdin. A bad request gets an `error` line and the loop goes on.
//! One writer task owns the output, so concurrent turns interleave whole lines only.

use super::lines::{Line, LineReader};
use super::proto::{
    self, Body, Health, MAX_REQUEST_LINE, OPS, Op, PROTOCOL, Request, Response, TurnArgs, WireCode,
};
use super::turn::{self, Running};
use crate::driver::{Conversation, TurnSpec};
use crate::tmux::{Health as SessionHealth, TmuxHost, deliver};
use paliadin_shared::events::ErrorCode;
use paliadin_shared::{SessionName, SessionPrefix, UserMessage};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// Turns one host agent process runs at once, at most (a worker runs far fewer per host).
const MAX_TURNS: usize = 256;
/// Most `health`, `reset` and `capture` requests running at once; more are answered `busy`.
const MAX_TASKS: usize = 32;
/// The longest turn a request may ask for.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

struct Shared {
    host: Arc<TmuxHost>,
    /// Only sessions named `<prefix>-…` are this host agent's to touch.
    prefix: SessionPrefix,
    /// Slots for short tasks ([`MAX_TASKS`]).
    slots: Arc<tokio::sync::Semaphore>,
    out: mpsc::Sender<Response>,
    turns: Mutex<HashMap<Uuid, Arc<Running>>>,
    tasks: TaskTracker,
}

/// Serves one channel until EOF, a write failure or `stop`; then detaches the running turns
/// (see [`turn`]) and returns once they have all let go.
pub async fn serve<R, W>(
    host: Arc<TmuxHost>,
    prefix: SessionPrefix,
    input: R,
    output: W,
    stop: CancellationToken,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out, rx) = mpsc::channel(1024);
    let gone = CancellationToken::new();
    let writer = tokio::spawn(write_lines(output, rx, gone.clone()));
    let hello = Body::Hello {
        protocol: PROTOCOL,
        server: format!("paliadin-shim {}", env!("CARGO_PKG_VERSION")),
        max_line: MAX_REQUEST_LINE,
    };
    let _ = out
        .send(Response {
            id: None,
            body: hello,
        })
        .await;
    let shared = Arc::new(Shared {
        host,
        prefix,
        slots: Arc::new(tokio::sync::Semaphore::new(MAX_TASKS)),
        out,
        turns: Mutex::default(),
        tasks: TaskTracker::new(),
    });
    let mut reader = LineReader::new(input, MAX_REQUEST_LINE);
    loop {
        let line = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = gone.cancelled() => break,
            l = reader.next() => l,
        };
        match line {
            Ok(Line::Text(bytes)) => handle(&shared, &bytes).await,
            Ok(Line::TooLong(n)) => {
                let msg =
                    format!("a request line of {n} bytes exceeds the limit of {MAX_REQUEST_LINE}");
                answer(&shared, None, Body::error(WireCode::TooLarge, msg)).await;
            }
            Ok(Line::Eof) => break,
            Err(e) => {
                tracing::info!(error = %e, "cannot read the channel");
                break;
            }
        }
    }
    let running: Vec<_> = shared
        .turns
        .lock()
        .expect("turns")
        .values()
        .cloned()
        .collect();
    tracing::info!(
        turns = running.len(),
        "channel closed: detaching running turns"
    );
    for r in running {
        r.detach();
    }
    shared.tasks.close();
    shared.tasks.wait().await;
    drop(shared);
    let _ = writer.await;
}

async fn write_lines<W: AsyncWrite + Unpin>(
    mut w: W,
    mut rx: mpsc::Receiver<Response>,
    gone: CancellationToken,
) {
    while let Some(r) = rx.recv().await {
        let line = proto::line(&r);
        if let Err(e) = async {
            w.write_all(line.as_bytes()).await?;
            w.flush().await
        }
        .await
        {
            tracing::info!(error = %e, "cannot write to the channel");
            gone.cancel();
            return;
        }
    }
}

async fn answer(shared: &Shared, id: Option<u64>, body: Body) {
    let _ = shared.out.send(Response { id, body }).await;
}

fn bad(message: impl Into<String>) -> Body {
    Body::error(WireCode::BadRequest, message)
}

async fn handle(shared: &Arc<Shared>, bytes: &[u8]) {
    let v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return answer(shared, None, bad(format!("malformed JSON: {e}"))).await,
    };
    let Some(id) = v.get("id").and_then(Value::as_u64) else {
        return answer(
            shared,
            None,
            bad("a request needs \"id\": a non-negative integer"),
        )
        .await;
    };
    match v.get("op").and_then(Value::as_str) {
        Some(op) if OPS.contains(&op) => {}
        Some(op) => {
            let msg = format!("unknown op {op:?}; known ops: {}", OPS.join(", "));
            return answer(shared, Some(id), Body::error(WireCode::UnknownOp, msg)).await;
        }
        None => return answer(shared, Some(id), bad("a request needs \"op\": a string")).await,
    }
    let req: Request = match serde_json::from_value(v) {
        Ok(r) => r,
        Err(e) => return answer(shared, Some(id), bad(e.to_string())).await,
    };
    if let Err(body) = dispatch(shared, req).await {
        answer(shared, Some(id), body).await;
    }
}

/// Starts the request; `Err` is an immediate answer.
async fn dispatch(shared: &Arc<Shared>, req: Request) -> Result<(), Body> {
    let id = req.id;
    match req.op {
        Op::Ping => Err(Body::ok()),
        Op::Health { session } => {
            let session = session
                .as_deref()
                .map(|n| session_name(shared, n))
                .transpose()?;
            spawn(shared, id, |s| async move { health(&s, session).await })
        }
        Op::Run(args) => start_turn(shared, id, args, false),
        Op::Takeover(args) => start_turn(shared, id, args, true),
        Op::Cancel { turn_id } => {
            find(shared, turn_id)?.control.cancel.cancel();
            Err(Body::ok())
        }
        Op::Abandon { turn_id } => {
            find(shared, turn_id)?.detach();
            Err(Body::ok())
        }
        Op::Decide { turn_id, n, answer } => {
            if find(shared, turn_id)?.decide(n, answer) {
                Err(Body::ok())
            } else {
                let msg = format!("no permission request {n} waits in turn {turn_id}");
                Err(Body::error(WireCode::UnknownTurn, msg))
            }
        }
        Op::Settle { turn_id } => {
            shared.host.settle(turn_id);
            Err(Body::ok())
        }
        Op::Upload {
            turn_id,
            name,
            offset,
            data,
            last,
        } => {
            let workdir = &shared.host.config().workdir;
            let written = crate::uploads::decode_piece(&data).and_then(|bytes| {
                crate::uploads::write_piece(workdir, turn_id, &name, offset, &bytes, last)
            });
            match written {
                Ok(()) => Err(Body::ok()),
                Err(e) => Err(bad(format!("cannot write upload {name:?}: {e}"))),
            }
        }
        Op::PurgeUploads { turn_ids } => spawn(shared, id, |s| async move {
            match s.host.purge_uploads(turn_ids).await {
                Ok(()) => Body::ok(),
                Err(e) => Body::error(ErrorCode::UpstreamError, e.to_string()),
            }
        }),
        Op::Transcript(w) => {
            let session = w
                .session
                .as_deref()
                .map(|n| session_name(shared, n))
                .transpose()?;
            let op = crate::transcript_store::TranscriptOp::from_wire(w, session).map_err(bad)?;
            spawn(shared, id, |s| async move {
                match crate::transcript_store::file::apply(&s.host, op).await {
                    Ok(a) => Body::Transcript {
                        size: a.size,
                        data: hex::encode(a.data),
                    },
                    Err(e) => Body::of_outcome(Err(e)),
                }
            })
        }
        Op::Reset { session } => {
            let session = session_name(shared, &session)?;
            spawn(shared, id, |s| async move {
                match s.host.reset(&session).await {
                    Ok(()) => Body::ok(),
                    Err(e) => Body::of_outcome(Err(e)),
                }
            })
        }
        Op::Capture { session } => {
            let session = session_name(shared, &session)?;
            spawn(shared, id, |s| async move {
                match deliver::capture(s.host.tmux(), &session.pane_target()).await {
                    Ok(screen) => Body::Ok {
                        health: None,
                        screen: Some(screen),
                    },
                    Err(e) if e.is_missing() => {
                        Body::error(ErrorCode::SessionLost, format!("no session {session}"))
                    }
                    Err(e) => Body::error(ErrorCode::TmuxUnavailable, e.to_string()),
                }
            })
        }
        Op::Agents => spawn(shared, id, |s| async move {
            match crate::tmux::capacity::list(s.host.tmux()).await {
                Ok(agents) => Body::Agents {
                    windows: agents
                        .into_iter()
                        .filter(|a| {
                            !a.dead
                                && a.session.conversation().is_some()
                                && a.session.has_prefix(&s.prefix)
                        })
                        .map(|a| a.session.as_str().to_owned())
                        .collect(),
                    max: s.host.config().max_live_agents.map(|m| m as u64),
                },
                Err(e) => Body::error(ErrorCode::TmuxUnavailable, e.to_string()),
            }
        }),
        Op::Pane { session } => {
            let session = session_name(shared, &session)?;
            spawn(shared, id, |s| async move {
                match crate::tmux::pane_view::read(s.host.tmux(), &session).await {
                    Ok(view) => Body::Pane { view },
                    Err(e) if e.is_missing() => {
                        Body::error(ErrorCode::SessionLost, format!("no session {session}"))
                    }
                    Err(e) => Body::error(ErrorCode::TmuxUnavailable, e.to_string()),
                }
            })
        }
    }
}

/// A valid session name with this host agent's prefix: other sessions on the account's tmux
/// server (an operator's shell, say) are not the worker's to paste into, kill or read.
fn session_name(shared: &Shared, s: &str) -> Result<SessionName, Body> {
    let name = SessionName::parse(s).map_err(|e| bad(e.0))?;
    if !name.has_prefix(&shared.prefix) {
        return Err(bad(format!(
            "session {s:?} is not one of this host agent's (PALIADIN_SESSION_PREFIX {:?})",
            shared.prefix.as_str()
        )));
    }
    Ok(name)
}

fn find(shared: &Shared, turn: Uuid) -> Result<Arc<Running>, Body> {
    let turns = shared.turns.lock().expect("turns");
    turns
        .get(&turn)
        .cloned()
        .ok_or_else(|| Body::error(WireCode::UnknownTurn, format!("no running turn {turn}")))
}

/// Runs `f` as a task and sends its body as the answer to `id`; `busy` when [`MAX_TASKS`]
/// are running already.
fn spawn<F, Fut>(shared: &Arc<Shared>, id: u64, f: F) -> Result<(), Body>
where
    F: FnOnce(Arc<Shared>) -> Fut,
    Fut: std::future::Future<Output = Body> + Send + 'static,
{
    let Ok(slot) = shared.slots.clone().try_acquire_owned() else {
        let msg = format!("{MAX_TASKS} requests are already running here");
        return Err(Body::error(WireCode::Busy, msg));
    };
    let fut = f(shared.clone());
    let s = shared.clone();
    shared.tasks.spawn(async move {
        let body = fut.await;
        drop(slot);
        answer(&s, Some(id), body).await;
    });
    Ok(())
}

fn start_turn(shared: &Arc<Shared>, id: u64, args: TurnArgs, takeover: bool) -> Result<(), Body> {
    let session = session_name(shared, &args.session)?;
    let message = UserMessage::parse(&args.message).map_err(|e| bad(e.to_string()))?;
    let timeout = Duration::from_millis(args.timeout_ms);
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(bad(format!(
            "timeout_ms must be in 1..={}",
            MAX_TIMEOUT.as_millis()
        )));
    }
    let (statuses, steps) = (args.statuses, args.steps);
    let spec = TurnSpec {
        turn_id: args.turn_id,
        user_id: args.user_id,
        session,
        conversation: Conversation {
            id: args.conversation.unwrap_or(args.user_id),
            continues: args.continues,
        },
        message,
        uploads: args
            .uploads
            .into_iter()
            .map(|u| crate::uploads::TurnUpload {
                name: u.name,
                content_type: u.content_type,
                size: u.size,
                data: None,
            })
            .collect(),
        already_delivered: takeover,
        resume: false,
        timeout,
    };
    let running = Arc::new(Running::with_statuses(statuses).with_steps(steps));
    {
        let mut turns = shared.turns.lock().expect("turns");
        if turns.contains_key(&spec.turn_id) {
            return Err(Body::error(
                WireCode::Busy,
                format!("turn {} is already running here", spec.turn_id),
            ));
        }
        if turns.len() >= MAX_TURNS {
            return Err(Body::error(
                WireCode::Busy,
                format!("{MAX_TURNS} turns are already running here"),
            ));
        }
        turns.insert(spec.turn_id, running.clone());
    }
    let s = shared.clone();
    shared.tasks.spawn(async move {
        let turn_id = spec.turn_id;
        let body = turn::run(&s.host, id, spec, &running, &s.out).await;
        s.turns.lock().expect("turns").remove(&turn_id);
        answer(&s, Some(id), body).await;
    });
    Ok(())
}

async fn health(s: &Shared, session: Option<SessionName>) -> Body {
    let (tmux, tmux_ok) = match s.host.tmux().run(&["-V"]).await {
        Ok(v) => (v.trim().to_owned(), true),
        Err(e) => (e.to_string(), false),
    };
    let session = match session {
        Some(name) => Some(match s.host.sessions().health(&name).await {
            Ok(SessionHealth::Alive { .. }) => "alive".to_owned(),
            Ok(SessionHealth::Dead) => "dead".to_owned(),
            Ok(SessionHealth::Missing) => "missing".to_owned(),
            Err(e) => format!("unknown: {e}"),
        }),
        None => None,
    };
    let turns = s.turns.lock().expect("turns").len();
    let health = Health {
        tmux,
        tmux_ok,
        session,
        turns,
    };
    Body::Ok {
        health: Some(health),
        screen: None,
    }
}

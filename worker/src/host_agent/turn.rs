//! One `run`/`takeover` inside the host agent: lock the turn, replay a recorded outcome if the turn
//! already ended on this host, otherwise drive it with [`TmuxHost::run_turn`] and forward its
//! progress as pushed lines.
//!
//! Exactly-once delivery across connections rests on three things:
//! - the per-turn lock ([`super::lock`]): a resumed turn waits for an older host agent process that
//!   is still delivering it;
//! - receipts: a `run` for a turn whose files already exist on the host does not paste, it
//!   reports `delivered` and watches (the worker may not have heard of the first delivery);
//! - the outcome record `<spool>/done/<turn_id>.outcome`: a turn that ended while nobody was
//!   listening (the connection dropped just before its final line) is answered from it.
//!
//! When the channel goes away, the host agent *detaches* its turns: a delivered turn is abandoned at
//! once (pane and files left for the resumed request); one still being delivered finishes its
//! delivery first, so a paste is never cut between the text and its Enter.

use super::proto::{Body, Response, WireCode};
use crate::driver::{DriveError, Progress, TurnControl, TurnSpec};
use crate::spool::SpoolDir;
use crate::tmux::TmuxHost;
use async_trait::async_trait;
use paliadin_shared::domain::permission::{PermissionAnswer, PermissionAsk};
use paliadin_shared::events::ErrorCode;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A turn this host agent process is running, as seen by cancel/abandon/detach.
#[derive(Debug, Default)]
pub struct Running {
    pub control: TurnControl,
    /// The envelope reached the agent (or was found there): abandoning is safe from now on.
    delivered: AtomicBool,
    /// The worker stopped listening: abandon as soon as it is safe.
    detached: CancellationToken,
    /// Permission requests pushed to the worker, waiting for its `decide`.
    asks: Mutex<HashMap<u32, oneshot::Sender<PermissionAnswer>>>,
    /// The worker asked for `retrying` and `compacting` lines (`TurnArgs::statuses`).
    statuses: bool,
    /// The worker asked for `step` lines (`TurnArgs::steps`).
    steps: bool,
}

impl Running {
    /// A turn whose worker reads `retrying` and `compacting` lines when `statuses`.
    pub fn with_statuses(statuses: bool) -> Running {
        Running {
            statuses,
            ..Running::default()
        }
    }

    /// The same turn, whose worker also reads `step` lines when `steps`.
    pub fn with_steps(mut self, steps: bool) -> Running {
        self.steps = steps;
        self
    }

    pub fn mark_delivered(&self) {
        self.delivered.store(true, Ordering::SeqCst);
        if self.detached.is_cancelled() {
            self.control.abandon.cancel();
        }
    }

    /// The worker's answer to request `n`; false when no such request waits.
    pub fn decide(&self, n: u32, answer: PermissionAnswer) -> bool {
        let waiting = self.asks.lock().expect("asks").remove(&n);
        waiting.is_some_and(|tx| tx.send(answer).is_ok())
    }

    /// Stop watching once delivered (at once if it already is); never cut a delivery short.
    pub fn detach(&self) {
        self.detached.cancel();
        if self.delivered.load(Ordering::SeqCst) {
            self.control.abandon.cancel();
        }
    }
}

/// Forwards `Progress` calls as pushed lines of request `id`.
struct Forward<'a> {
    id: u64,
    out: &'a mpsc::Sender<Response>,
    running: &'a Running,
}

impl Forward<'_> {
    async fn push(&self, body: Body) {
        // A closed channel means the worker is gone: the turn is being detached anyway.
        let _ = self
            .out
            .send(Response {
                id: Some(self.id),
                body,
            })
            .await;
    }
}

#[async_trait]
impl Progress for Forward<'_> {
    async fn delivered(&self) {
        self.running.mark_delivered();
        self.push(Body::Delivered).await;
    }
    async fn content(&self, delta: &str) {
        self.push(Body::Content {
            delta: delta.to_owned(),
        })
        .await;
    }
    async fn activity(&self, text: &str) {
        self.push(Body::Activity {
            text: text.to_owned(),
        })
        .await;
    }
    async fn waiting(&self, screen: &str) {
        self.push(Body::Waiting {
            screen: screen.to_owned(),
        })
        .await;
    }
    async fn retrying(&self, attempt: u32, of: u32, next_in: u64) {
        if self.running.statuses {
            self.push(Body::Retrying {
                attempt,
                of,
                next_in,
            })
            .await;
        }
    }
    async fn compacting(&self, done: bool, trigger: &str) {
        if self.running.statuses {
            self.push(Body::Compacting {
                done,
                trigger: trigger.to_owned(),
            })
            .await;
        }
    }
    async fn step(&self, step: &crate::worklog::step::Step) {
        if self.running.steps {
            self.push(Body::Step { step: step.clone() }).await;
        }
    }
    /// Pushes the request and waits for the worker's `decide`. If the channel goes away
    /// meanwhile, the turn is detached and this wait ends with it; the resumed request asks
    /// again (the agent's request file is still unanswered).
    async fn permission(&self, n: u32, ask: &PermissionAsk) -> Option<PermissionAnswer> {
        let (tx, rx) = oneshot::channel();
        tracing::debug!(n, "asking the worker for a permission decision");
        self.running.asks.lock().expect("asks").insert(n, tx);
        self.push(Body::Permission {
            n,
            ask: ask.clone(),
        })
        .await;
        rx.await.ok()
    }
}

/// Runs one turn to its final body (the caller sends it).
pub async fn run(
    host: &TmuxHost,
    id: u64,
    mut spec: TurnSpec,
    running: &Running,
    out: &mpsc::Sender<Response>,
) -> Body {
    let deadline = Instant::now() + spec.timeout;
    let spool = host.spool();
    let locks = match super::lock::dir(spool.root()) {
        Ok(d) => d,
        Err(e) => {
            return Body::error(
                ErrorCode::UpstreamError,
                format!("cannot prepare turn locks: {e}"),
            );
        }
    };
    let control = &running.control;
    let lock = tokio::select! {
        biased;
        _ = control.abandon.cancelled() => return Body::of_outcome(Err(DriveError::Abandoned)),
        _ = running.detached.cancelled() => return Body::of_outcome(Err(DriveError::Abandoned)),
        _ = control.cancel.cancelled() => return Body::of_outcome(Err(DriveError::Cancelled)),
        l = super::lock::TurnLock::acquire(&locks, spec.turn_id, deadline) => match l {
            Ok(l) => l,
            Err(e) => return Body::error(WireCode::Busy, e.to_string()),
        },
    };
    if let Some(body) = recorded(spool, spec.turn_id) {
        tracing::info!(turn_id = %spec.turn_id, "turn already ended on this host: replaying its outcome");
        return body;
    }
    let forward = Forward { id, out, running };
    if !spec.already_delivered && has_traces(spool, spec.turn_id) {
        tracing::info!(turn_id = %spec.turn_id, "the agent already has this turn: watching, not pasting");
        spec.already_delivered = true;
        forward.delivered().await;
    }
    if spec.already_delivered {
        running.mark_delivered();
    } else if running.detached.is_cancelled() {
        return Body::of_outcome(Err(DriveError::Abandoned));
    }
    spec.timeout = deadline.saturating_duration_since(Instant::now());
    let outcome = host.run_turn(&spec, &forward, control).await;
    // A turn that found the host full comes back later: nothing of it happened here.
    let abandoned = matches!(
        outcome,
        Err(DriveError::Abandoned | DriveError::AgentsFull(_))
    );
    let body = Body::of_outcome(outcome);
    if abandoned {
        drop(lock);
    } else {
        record(spool, spec.turn_id, &body);
        lock.release_and_remove();
    }
    body
}

/// Any file of the turn, at the top of the spool or settled in `done/`: the agent received it.
/// A host agent process that wins the turn's lock late — after the turn ended and the worker settled
/// its files — must see that too, or it would paste the message again.
fn has_traces(spool: &SpoolDir, turn: Uuid) -> bool {
    crate::tmux::resume::received(spool, turn)
}

fn outcome_path(spool: &SpoolDir, turn: Uuid) -> PathBuf {
    spool
        .root()
        .join("done")
        .join(format!("{}.outcome", turn.hyphenated()))
}

/// The final body of a turn that already ended here, if recorded.
fn recorded(spool: &SpoolDir, turn: Uuid) -> Option<Body> {
    let bytes = std::fs::read(outcome_path(spool, turn)).ok()?;
    match serde_json::from_slice::<Body>(&bytes) {
        Ok(b @ (Body::Reply { .. } | Body::Error { .. })) => Some(b),
        _ => None,
    }
}

/// Writes the outcome record atomically (tmp + rename); pruned with `done/`.
fn record(spool: &SpoolDir, turn: Uuid, body: &Body) {
    let path = outcome_path(spool, turn);
    let tmp = path.with_extension("outcome.tmp");
    let json = serde_json::to_vec(body).expect("bodies serialise");
    let res = std::fs::create_dir_all(spool.root().join("done"))
        .and_then(|_| std::fs::write(&tmp, json))
        .and_then(|_| std::fs::rename(&tmp, &path));
    if let Err(e) = res {
        tracing::warn!(error = %e, turn_id = %turn, "cannot record the turn's outcome");
    }
}

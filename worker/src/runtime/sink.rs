//! `EventSink`: the [`Progress`] a driver reports to, turned into the attempt's fenced, durable
//! events (a write that finds the turn fenced makes the attempt let go, see
//! [`Attempt::append`]).
//!
//! A takeover replays the agent's files from the start; the sink skips the content bytes and
//! activity lines earlier attempts already wrote, so the concatenated deltas stay the reply.

use crate::driver::Progress;
use async_trait::async_trait;
use paliadin_shared::attempt::Attempt;
use paliadin_shared::domain::permission::{PermissionAnswer, PermissionAsk};
use paliadin_shared::events::{NewEvent, StatusState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

pub struct EventSink<'a> {
    attempt: &'a Attempt,
    /// How long a permission request waits for the person before it is denied.
    permission_wait: Duration,
    /// `status: answering` is sent once, before the first content or activity.
    answering: AtomicBool,
    seen: Mutex<Seen>,
    /// The highest work-log step number written (earlier attempts included).
    steps: AtomicI64,
}

/// What this turn streamed so far (earlier attempts included), and what the driver reported.
#[derive(Default)]
struct Seen {
    streamed: String,
    activities: i64,
    /// Content bytes and activity lines the driver reported in this attempt.
    bytes: usize,
    acts: i64,
    /// Content whose write failed (a database error, not a fence): it goes out with the next
    /// delta, or at [`EventSink::flush`], so the deltas still add up to the reply.
    unsent: String,
}

impl<'a> EventSink<'a> {
    /// A sink for a turn of which earlier attempts streamed `streamed` and `activities`.
    pub fn new(
        attempt: &'a Attempt,
        streamed: String,
        activities: i64,
        permission_wait: Duration,
    ) -> Self {
        EventSink {
            attempt,
            permission_wait,
            answering: AtomicBool::new(!streamed.is_empty() || activities > 0),
            seen: Mutex::new(Seen {
                streamed,
                activities,
                ..Seen::default()
            }),
            steps: AtomicI64::new(0),
        }
    }

    /// Earlier attempts wrote the work-log steps up to number `n`: those are not written again.
    pub fn with_steps(self, n: i64) -> Self {
        self.steps.store(n, Ordering::SeqCst);
        self
    }

    /// Writes content that failed to go out earlier (call before the result is written).
    /// A few tries, a moment apart: the pool replaces a killed connection meanwhile.
    pub async fn flush(&self) {
        for _ in 0..5 {
            let text = std::mem::take(&mut self.seen.lock().expect("seen").unsent);
            if text.is_empty() {
                return;
            }
            self.send(text).await;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Writes `text` as one content event, after `status: answering` if that is still due (one
    /// statement for both).
    async fn send(&self, text: String) {
        let mut evs = self.answering();
        evs.push(NewEvent::content(&text));
        if !self.attempt.append_all(&evs).await && !self.attempt.is_lost() {
            self.seen.lock().expect("seen").unsent = text;
        }
    }

    /// `status: answering`, the first time only, as the events to write before the next one.
    fn answering(&self) -> Vec<NewEvent> {
        if self.answering.swap(true, Ordering::SeqCst) {
            return Vec::new();
        }
        vec![self.attempt.status_event(StatusState::Answering)]
    }

    /// The part of `delta` not streamed yet.
    fn unseen(&self, delta: &str) -> String {
        let mut s = self.seen.lock().expect("seen");
        let start = s.bytes;
        s.bytes += delta.len();
        if s.bytes <= s.streamed.len() {
            return String::new();
        }
        let skip = s.streamed.len().saturating_sub(start);
        let piece = delta.get(skip..).unwrap_or_else(|| {
            tracing::warn!("a resumed turn's content does not line up; skipping a delta");
            ""
        });
        s.streamed.push_str(piece);
        piece.to_owned()
    }
}

#[async_trait]
impl Progress for EventSink<'_> {
    async fn delivered(&self) {
        self.attempt.mark_delivered().await;
    }

    async fn content(&self, delta: &str) {
        let piece = self.unseen(delta);
        let text = {
            let mut s = self.seen.lock().expect("seen");
            std::mem::take(&mut s.unsent) + &piece
        };
        if text.is_empty() {
            return;
        }
        self.send(text).await;
    }

    async fn activity(&self, text: &str) {
        let new = {
            let mut s = self.seen.lock().expect("seen");
            s.acts += 1;
            s.acts > s.activities
        };
        if new {
            let mut evs = self.answering();
            evs.push(NewEvent::activity(text));
            self.attempt.append_all(&evs).await;
        }
    }

    async fn step(&self, step: &crate::worklog::step::Step) {
        let n = i64::from(step.n);
        // Steps come in order; one already written (a takeover's replay) is passed over.
        if self.steps.fetch_max(n, Ordering::SeqCst) >= n {
            return;
        }
        self.attempt.append(&NewEvent::step(step.to_json())).await;
    }

    async fn waiting(&self, screen: &str) {
        let mut ev = NewEvent::status(StatusState::Waiting, None, None);
        ev.data["screen"] = serde_json::json!(screen);
        self.attempt.append(&ev).await;
    }

    async fn retrying(&self, attempt: u32, of: u32, next_in: u64) {
        let mut ev = NewEvent::status(StatusState::Retrying, None, None);
        ev.data["attempt"] = serde_json::json!(attempt);
        ev.data["of"] = serde_json::json!(of);
        ev.data["next_in"] = serde_json::json!(next_in);
        self.attempt.append(&ev).await;
    }

    async fn compacting(&self, done: bool, trigger: &str) {
        let ev = if done {
            // The compaction's status gives way to the turn's usual one.
            self.attempt.status_event(StatusState::Answering)
        } else {
            let mut ev = NewEvent::status(StatusState::Compacting, None, None);
            ev.data["trigger"] = serde_json::json!(trigger);
            ev
        };
        self.attempt.append(&ev).await;
    }

    async fn permission(&self, n: u32, ask: &PermissionAsk) -> Option<PermissionAnswer> {
        let answer = self.attempt.permission(n, ask, self.permission_wait).await;
        if let Some(a) = &answer {
            tracing::info!(n, tool = %ask.tool, decision = %a.decision, by = a.by.as_str(), "permission answered");
        }
        answer
    }
}

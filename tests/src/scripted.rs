//! `ScriptedDriver`: an in-process [`Driver`] whose behaviour the test writes into the message,
//! used to pin queue semantics (order, leases, fencing, SSE) without tmux.
//!
//! Message words: `hang` (wait for cancel/abandon), `gate:<name>` (after the first content
//! chunk, wait until the test opens the gate), `sleep:<ms>`, `fail` (an `upstream_error`),
//! `ask:<tool>` (ask the person for permission first; the reply then starts with the decision,
//! `allow: reply to: …`); the reply is `reply to: <message>` ([`MARKDOWN_ATTACK`] for a message with the word
//! `markdown-attack`), streamed as three content chunks after one activity line. `panic` panics
//! inside the driver on a first delivery (a takeover of the same turn runs normally).
//! `agent:<kind>` (`claude`, `codex`, `demo`, `other`) names the kind of agent that answered,
//! as a real driver does from `PALIADIN_AGENT`; without it the reply names none.

use async_trait::async_trait;
use paliadin_shared::SessionName;
use paliadin_shared::domain::permission::{Decision, PermissionAsk};
use paliadin_shared::domain::trailer::{Reply, Trailer};
use paliadin_worker::driver::{DriveError, Driver, Progress, TurnControl, TurnSpec};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use uuid::Uuid;

/// A hostile reply: script, event handlers and `javascript:` links, in Markdown and raw HTML.
/// Rendered, it must stay inert (the sanitiser strips them; the page's CSP is the backstop).
pub const MARKDOWN_ATTACK: &str = "Attack *report*\n\n<script>window.__pwned = 'script'</script>\n\n\
<img src=x onerror=\"window.__pwned = 'onerror'\"> [click me](javascript:window.__pwned='link') \
<a href=\"javascript:window.__pwned='href'\" onclick=\"window.__pwned='onclick'\">raw link</a> \
<svg onload=\"window.__pwned='svg'\"></svg><iframe src=\"javascript:window.__pwned='iframe'\"></iframe>\n\n\
<details open ontoggle=\"window.__pwned='toggle'\"><summary>x</summary></details> done";

/// One run of a turn as the driver saw it.
#[derive(Debug, Clone)]
pub struct Run {
    pub user: Uuid,
    pub turn: Uuid,
    pub message: String,
    pub start: Instant,
    pub end: Instant,
    pub delivered_before: bool,
}

#[derive(Default)]
pub struct ScriptedDriver {
    pub runs: Mutex<Vec<Run>>,
    pub resets: Mutex<Vec<SessionName>>,
    in_flight_per_user: Mutex<HashMap<Uuid, usize>>,
    /// Times a user had two turns running at once (must stay 0).
    pub overlaps: AtomicUsize,
    current: AtomicUsize,
    /// Highest number of turns running at once across users.
    pub max_parallel: AtomicUsize,
    gates: Mutex<HashMap<String, std::sync::Arc<Semaphore>>>,
}

impl ScriptedDriver {
    fn gate(&self, name: &str) -> std::sync::Arc<Semaphore> {
        self.gates
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_insert_with(|| std::sync::Arc::new(Semaphore::new(0)))
            .clone()
    }

    /// Lets one turn waiting at `gate:<name>` continue.
    pub fn open(&self, name: &str) {
        self.gate(name).add_permits(1);
    }

    pub fn reply_for(message: &str) -> String {
        if message.split_whitespace().any(|w| w == "markdown-attack") {
            return MARKDOWN_ATTACK.to_owned();
        }
        format!("reply to: {message}")
    }

    async fn body(
        &self,
        spec: &TurnSpec,
        progress: &dyn Progress,
        control: &TurnControl,
    ) -> Result<Reply, DriveError> {
        let msg = spec.message.as_str();
        if !spec.already_delivered {
            progress.delivered().await;
        }
        for word in msg.split_whitespace() {
            if let Some(ms) = word.strip_prefix("sleep:") {
                tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
            }
            if word == "panic" && !spec.already_delivered {
                panic!("scripted panic inside a turn");
            }
            if word == "fail" {
                return Err(DriveError::Upstream("scripted failure".into()));
            }
            if word == "hang" {
                tokio::select! {
                    _ = control.cancel.cancelled() => return Err(DriveError::Cancelled),
                    _ = control.abandon.cancelled() => return Err(DriveError::Abandoned),
                }
            }
        }
        let mut text = Self::reply_for(msg);
        if let Some(tool) = msg.split_whitespace().find_map(|w| w.strip_prefix("ask:")) {
            let ask = PermissionAsk {
                tool: tool.to_owned(),
                summary: format!("scripted: {msg}"),
                options: vec![Decision::Allow, Decision::AllowAlways, Decision::Deny],
            };
            let answer = tokio::select! {
                a = progress.permission(1, &ask) => a,
                _ = control.cancel.cancelled() => return Err(DriveError::Cancelled),
                _ = control.abandon.cancelled() => return Err(DriveError::Abandoned),
            };
            let Some(answer) = answer else {
                return Err(DriveError::Abandoned);
            };
            text = format!("{}: {text}", answer.decision);
        }
        progress.activity("scripted: thinking").await;
        let chars: Vec<char> = text.chars().collect();
        let third = chars.len().div_ceil(3);
        for (i, chunk) in chars.chunks(third.max(1)).enumerate() {
            progress.content(&chunk.iter().collect::<String>()).await;
            if i == 0
                && let Some(g) = msg.split_whitespace().find_map(|w| w.strip_prefix("gate:"))
            {
                let gate = self.gate(g);
                tokio::select! {
                    p = gate.acquire() => p.expect("gate").forget(),
                    _ = control.cancel.cancelled() => return Err(DriveError::Cancelled),
                    _ = control.abandon.cancelled() => return Err(DriveError::Abandoned),
                }
            }
        }
        let trailer = Trailer {
            used_tools: vec!["scripted".into()],
            rows_seen: 1,
            chip_count: 0,
            classifier_tag: "test".into(),
        };
        let agent = msg
            .split_whitespace()
            .find_map(|w| w.strip_prefix("agent:"))
            .and_then(paliadin_shared::domain::AgentKind::parse);
        Ok(Reply {
            text,
            trailer,
            usage: Vec::new(),
            agent,
        })
    }
}

#[async_trait]
impl Driver for ScriptedDriver {
    async fn run_turn(
        &self,
        spec: &TurnSpec,
        progress: &dyn Progress,
        control: &TurnControl,
    ) -> Result<Reply, DriveError> {
        let start = Instant::now();
        {
            let mut m = self.in_flight_per_user.lock().unwrap();
            let n = m.entry(spec.user_id).or_default();
            *n += 1;
            if *n > 1 {
                self.overlaps.fetch_add(1, Ordering::SeqCst);
            }
        }
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_parallel.fetch_max(now, Ordering::SeqCst);
        let result = self.body(spec, progress, control).await;
        self.current.fetch_sub(1, Ordering::SeqCst);
        *self
            .in_flight_per_user
            .lock()
            .unwrap()
            .get_mut(&spec.user_id)
            .expect("entry") -= 1;
        self.runs.lock().unwrap().push(Run {
            user: spec.user_id,
            turn: spec.turn_id,
            message: spec.message.as_str().to_owned(),
            start,
            end: Instant::now(),
            delivered_before: spec.already_delivered,
        });
        result
    }

    async fn reset(&self, _user: Uuid, session: &SessionName) -> Result<(), DriveError> {
        self.resets.lock().unwrap().push(session.clone());
        Ok(())
    }
}

//! The ⚑ turn event vocabulary: kinds, error codes and payload builders.
//!
//! Events are rows of `turn_events (turn_id, seq, kind, data)`; the SSE endpoint sends each as
//! `id: <seq>`, `event: <kind>`, `data: <data>`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;
use std::str::FromStr;

/// Event kinds, exactly the ⚑ SSE `event:` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum EventKind {
    Meta,
    Status,
    Activity,
    Content,
    End,
    Error,
    Cancelled,
    /// The agent asks the person before a tool runs (`docs/agent-protocol.md` §7).
    Permission,
    /// The person (or the expiry) answered a `permission` event.
    PermissionDecided,
    /// One entry of the agent's work log (`docs/agent-protocol.md`, "Work log").
    Step,
}

impl EventKind {
    pub const ALL: [EventKind; 10] = [
        EventKind::Meta,
        EventKind::Status,
        EventKind::Activity,
        EventKind::Content,
        EventKind::End,
        EventKind::Error,
        EventKind::Cancelled,
        EventKind::Permission,
        EventKind::PermissionDecided,
        EventKind::Step,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Meta => "meta",
            EventKind::Status => "status",
            EventKind::Activity => "activity",
            EventKind::Content => "content",
            EventKind::End => "end",
            EventKind::Error => "error",
            EventKind::Cancelled => "cancelled",
            EventKind::Permission => "permission",
            EventKind::PermissionDecided => "permission_decided",
            EventKind::Step => "step",
        }
    }

    /// Terminal events end a turn's stream.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            EventKind::End | EventKind::Error | EventKind::Cancelled
        )
    }
}

impl FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown event kind {s:?}"))
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ⚑ error codes of the terminal `error` event; stored as text in `turns.error_code`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ErrorCode {
    UpstreamError,
    TmuxUnavailable,
    HostUnreachable,
    SessionLost,
    Timeout,
    InvalidReply,
    WorkerLost,
    /// The agent's model call failed (the event adds `kind`: `rate_limit`, `overloaded`, …).
    AgentError,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 8] = [
        ErrorCode::UpstreamError,
        ErrorCode::TmuxUnavailable,
        ErrorCode::HostUnreachable,
        ErrorCode::SessionLost,
        ErrorCode::Timeout,
        ErrorCode::InvalidReply,
        ErrorCode::WorkerLost,
        ErrorCode::AgentError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UpstreamError => "upstream_error",
            ErrorCode::TmuxUnavailable => "tmux_unavailable",
            ErrorCode::HostUnreachable => "host_unreachable",
            ErrorCode::SessionLost => "session_lost",
            ErrorCode::Timeout => "timeout",
            ErrorCode::InvalidReply => "invalid_reply",
            ErrorCode::WorkerLost => "worker_lost",
            ErrorCode::AgentError => "agent_error",
        }
    }
}

impl FromStr for ErrorCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown error code {s:?}"))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `status.state` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusState {
    Queued,
    Claimed,
    Delivered,
    Answering,
    /// The agent shows a dialog nobody reported through a hook (the pane's text is attached):
    /// the person has to answer it in the terminal.
    Waiting,
    /// The agent retries its model's API by itself (`attempt`, `of`, `next_in` attached).
    Retrying,
    /// The agent compacts its conversation to make room in the model's window (`trigger`
    /// attached: `auto` or `manual`); an `answering` status follows when it is done.
    Compacting,
}

impl StatusState {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Queued => "queued",
            StatusState::Claimed => "claimed",
            StatusState::Delivered => "delivered",
            StatusState::Answering => "answering",
            StatusState::Waiting => "waiting",
            StatusState::Retrying => "retrying",
            StatusState::Compacting => "compacting",
        }
    }
}

/// A new event to append: kind and JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub data: Value,
}

impl NewEvent {
    pub fn status(state: StatusState, worker: Option<&str>, host: Option<&str>) -> Self {
        let mut data = json!({ "state": state.as_str() });
        if let Some(w) = worker {
            data["worker"] = json!(w);
        }
        if let Some(h) = host {
            data["host"] = json!(h);
        }
        NewEvent {
            kind: EventKind::Status,
            data,
        }
    }

    pub fn content(delta: &str) -> Self {
        NewEvent {
            kind: EventKind::Content,
            data: json!({ "delta": delta }),
        }
    }

    pub fn activity(text: &str) -> Self {
        NewEvent {
            kind: EventKind::Activity,
            data: json!({ "text": text }),
        }
    }

    pub fn error(code: ErrorCode, message: &str) -> Self {
        NewEvent {
            kind: EventKind::Error,
            data: json!({ "code": code.as_str(), "message": message }),
        }
    }

    /// An `error` event with the failure's `kind` (`agent_error`), when there is one.
    pub fn error_of_kind(code: ErrorCode, message: &str, kind: Option<&str>) -> Self {
        let mut event = NewEvent::error(code, message);
        if let Some(kind) = kind {
            event.data["kind"] = json!(kind);
        }
        event
    }

    /// A `step` of the work log; `data` is already bounded (`worker::worklog`).
    pub fn step(data: Value) -> Self {
        NewEvent {
            kind: EventKind::Step,
            data,
        }
    }

    pub fn cancelled() -> Self {
        NewEvent {
            kind: EventKind::Cancelled,
            data: json!({}),
        }
    }
}

//! The terminal write of an attempt: the turn's result, its terminal event and the archive of
//! its queue message commit together, in one statement fenced by the attempt — or not at all.

use super::Inner;
use crate::db::{DbError, fenced, turns, usage};
use crate::domain::TurnState;
use crate::domain::trailer::Reply;
use crate::events::{ErrorCode, EventKind, NewEvent};
use crate::render::markdown_to_safe_html;
use serde_json::json;

/// How a turn ended.
#[derive(Debug)]
pub enum Outcome {
    Succeeded(Reply),
    Failed {
        code: ErrorCode,
        message: String,
        /// Reply text worth keeping (e.g. an `invalid_reply`'s text without its trailer).
        text: Option<String>,
        /// An `agent_error`'s kind (`rate_limit`, `overloaded`, …), carried by its event.
        kind: Option<String>,
    },
    Cancelled,
}

impl Outcome {
    /// The state the turn ends in.
    pub fn state(&self) -> TurnState {
        match self {
            Outcome::Succeeded(_) => TurnState::Succeeded,
            Outcome::Failed { .. } => TurnState::Failed,
            Outcome::Cancelled => TurnState::Cancelled,
        }
    }

    /// The ⚑ error code of a failure.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Outcome::Failed { code, .. } => Some(*code),
            Outcome::Succeeded(_) | Outcome::Cancelled => None,
        }
    }

    /// `succeeded`, `cancelled` or `failed: <code>`, for logs.
    pub fn label(&self) -> String {
        match self.code() {
            Some(code) => format!("{}: {code}", self.state()),
            None => self.state().to_string(),
        }
    }
}

/// Writes `outcome` in one statement (result, terminal event, archive of the queue message:
/// [`fenced::finish_succeeded`]); false (and nothing written) when fenced out.
pub(super) async fn write(inner: &Inner, outcome: &Outcome) -> Result<bool, DbError> {
    let (turn, attempt, pool) = (&inner.turn, inner.turn.attempt, &inner.pool);
    let queue = inner.leased.host.queue_name();
    let terminal = |event| fenced::Terminal {
        event,
        queue: &queue,
        msg_id: inner.leased.msg_id,
    };
    let done = match outcome {
        Outcome::Succeeded(reply) => {
            // Before the result, so that whoever sees the `end` event finds the usage stored
            // too; the tokens were spent whether or not this attempt still owns the turn. Usage
            // is an account of the turn, never a reason to lose it: an error is only logged.
            if let Err(e) = usage::record(pool, turn.user_id, turn.session_id, &reply.usage).await {
                tracing::warn!(error = %e, "cannot record the turn's usage");
            }
            let end = end_event(turn, reply);
            fenced::finish_succeeded(pool, turn.id, attempt, reply, &terminal(&end)).await?
        }
        Outcome::Failed {
            code,
            message,
            text,
            kind,
        } => {
            let failed = fenced::Failure {
                code: *code,
                message,
                text: text.as_deref(),
                kind: kind.as_deref(),
            };
            let error = NewEvent::error_of_kind(*code, message, kind.as_deref());
            fenced::finish_failed(pool, turn.id, attempt, &failed, &terminal(&error)).await?
        }
        Outcome::Cancelled => {
            let cancelled = NewEvent::cancelled();
            fenced::finish_cancelled(pool, turn.id, attempt, &terminal(&cancelled)).await?
        }
    };
    Ok(done)
}

/// The ⚑ `end` event of a successful turn.
fn end_event(turn: &turns::TurnRow, reply: &Reply) -> NewEvent {
    let duration_ms = (chrono::Utc::now() - turn.queued_at).num_milliseconds();
    NewEvent {
        kind: EventKind::End,
        data: json!({
            "turn_id": turn.id,
            "text": reply.text,
            "html": markdown_to_safe_html(&reply.text),
            "used_tools": reply.trailer.used_tools,
            "rows_seen": reply.trailer.rows_seen,
            "chip_count": reply.trailer.chip_count,
            "classifier_tag": reply.trailer.classifier_tag,
            "duration_ms": duration_ms,
            "usage": turn_usage(turn, reply),
            "agent": reply.agent,
        }),
    }
}

/// The ⚑ `end` event's `usage`: `{model, input, output, cache_read, cache_creation,
/// context, context_window, cost_usd?}` of this turn, or null when none was read.
fn turn_usage(turn: &turns::TurnRow, reply: &Reply) -> serde_json::Value {
    reply
        .usage
        .iter()
        .find(|u| u.turn_id == turn.id)
        .map_or(serde_json::Value::Null, |u| json!(u.usage))
}

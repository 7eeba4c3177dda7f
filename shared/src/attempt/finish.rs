//! The terminal write of an attempt: the turn's result, its terminal event and the archive of
//! its queue message commit together, fenced by the attempt — or not at all.

use super::Inner;
use crate::db::{DbError, events, fenced, turns};
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

/// Writes `outcome` in one transaction; false (and nothing written) when fenced out.
pub(super) async fn write(inner: &Inner, outcome: &Outcome) -> Result<bool, DbError> {
    let (turn, attempt) = (&inner.turn, inner.turn.attempt);
    let mut tx = inner.pool.begin().await?;
    let (updated, event) = match outcome {
        Outcome::Succeeded(reply) => {
            let ok = fenced::finish_succeeded(&mut tx, turn.id, attempt, reply).await?;
            (ok, end_event(turn, reply))
        }
        Outcome::Failed {
            code,
            message,
            text,
        } => {
            let failed = fenced::Failure {
                code: *code,
                message,
                text: text.as_deref(),
            };
            let ok = fenced::finish_failed(&mut tx, turn.id, attempt, &failed).await?;
            (ok, NewEvent::error(*code, message))
        }
        Outcome::Cancelled => (
            fenced::finish_cancelled(&mut tx, turn.id, attempt).await?,
            NewEvent::cancelled(),
        ),
    };
    if !updated {
        tx.rollback().await?;
        return Ok(false);
    }
    events::append(&mut tx, turn.id, Some(attempt), &event).await?;
    let leased = &inner.leased;
    inner
        .queue
        .archive(&mut tx, &leased.host, leased.msg_id)
        .await?;
    tx.commit().await?;
    Ok(true)
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
        }),
    }
}

//! Terminal writes: the turn's result, its terminal event and the archive of its queue message
//! commit together, fenced by the attempt — or not at all.

use paliadin_shared::HostName;
use paliadin_shared::db::{events, turns};
use paliadin_shared::domain::trailer::Reply;
use paliadin_shared::events::{ErrorCode, EventKind, NewEvent};
use paliadin_shared::queue::TurnQueue;
use paliadin_shared::render::markdown_to_safe_html;
use serde_json::json;
use sqlx::PgPool;

/// How a turn ended.
#[derive(Debug)]
pub enum Outcome {
    Succeeded(Reply),
    Failed {
        code: ErrorCode,
        message: String,
        text: Option<String>,
    },
    Cancelled,
}

/// Writes the outcome. `attempt = None` is for dead letters (the claim already proved ownership).
/// Returns false when fenced out (nothing written, message left to its current owner).
pub async fn finish(
    pool: &PgPool,
    queue: &TurnQueue,
    turn: &turns::TurnRow,
    host: &HostName,
    msg_id: i64,
    attempt: i32,
    outcome: Outcome,
) -> Result<bool, anyhow::Error> {
    let mut tx = pool.begin().await?;
    let (updated, event) = match &outcome {
        Outcome::Succeeded(reply) => {
            let ok = turns::finish_succeeded(&mut tx, turn.id, attempt, reply).await?;
            let duration_ms = (chrono::Utc::now() - turn.queued_at).num_milliseconds();
            let data = json!({
                "turn_id": turn.id,
                "text": reply.text,
                "html": markdown_to_safe_html(&reply.text),
                "used_tools": reply.trailer.used_tools,
                "rows_seen": reply.trailer.rows_seen,
                "chip_count": reply.trailer.chip_count,
                "classifier_tag": reply.trailer.classifier_tag,
                "duration_ms": duration_ms,
            });
            (
                ok,
                NewEvent {
                    kind: EventKind::End,
                    data,
                },
            )
        }
        Outcome::Failed {
            code,
            message,
            text,
        } => {
            let ok = turns::finish_failed(
                &mut tx,
                turn.id,
                Some(attempt),
                *code,
                message,
                text.as_deref(),
            )
            .await?;
            (ok, NewEvent::error(*code, message))
        }
        Outcome::Cancelled => (
            turns::finish_cancelled(&mut tx, turn.id, attempt).await?,
            NewEvent::cancelled(),
        ),
    };
    if !updated {
        tx.rollback().await?;
        return Ok(false);
    }
    events::append(&mut tx, turn.id, Some(attempt), &event).await?;
    queue.archive(&mut tx, host, msg_id).await?;
    tx.commit().await?;
    Ok(true)
}

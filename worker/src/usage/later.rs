//! The closing requests of turns whose driver does not count them itself (SSH and
//! `accounts://` hosts: their transcripts are read there, by the host agent, which makes no
//! second read once the agent stops). The read at the end of a conversation's next turn finds
//! the earlier turns' requests again, closing requests included; what that read adds to their
//! stored rows is counted here, just before the rows grow (`turn_usage` only grows), so the
//! counter holds each such turn whole once the next turn of its conversation has ended.

use paliadin_shared::db::usage;
use paliadin_shared::domain::usage::TurnUsage;
use sqlx::PgPool;
use uuid::Uuid;

/// Counts what `read` (the usage read at the end of `turn`, of `user`'s conversation
/// `session`) adds to the stored rows of the conversation's earlier turns. A turn with no
/// stored row is left alone: it was not counted when it ended either. Best effort: an error is
/// logged.
pub async fn count_growth(
    pool: &PgPool,
    user: Uuid,
    session: Uuid,
    turn: Uuid,
    read: &[TurnUsage],
) {
    let earlier: Vec<&TurnUsage> = read.iter().filter(|t| t.turn_id != turn).collect();
    if earlier.is_empty() {
        return;
    }
    let ids: Vec<Uuid> = earlier.iter().map(|t| t.turn_id).collect();
    let stored = match usage::of_conversation_turns(pool, user, session, &ids).await {
        Ok(stored) => stored,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the earlier turns' usage");
            return;
        }
    };
    for now in earlier {
        let Some(before) = stored.iter().find(|s| s.turn_id == now.turn_id) else {
            continue;
        };
        if let Some(more) = super::closing::growth(&before.usage, &now.usage) {
            tracing::debug!(
                earlier = %now.turn_id,
                output = more.output,
                cache_read = more.cache_read,
                "an earlier turn's closing request counted"
            );
            super::metrics::count(&more);
        }
    }
}

//! After a turn found its host unreachable: the worker's failover policy
//! (`PALIADIN_FAILOVER`, see [`crate::hosts::Failover`] and `docs/hosts.md`).

use super::Ctx;
use crate::hosts::Failover;
use paliadin_shared::HostName;
use paliadin_shared::db::failover;
use paliadin_shared::db::turns::TurnRow;

/// With `move`, re-pins the turn's user to a healthy host, with their queued turns. Runs before
/// the failed turn is finished, so its user's group stays held until the move is committed.
pub async fn after_unreachable(ctx: &Ctx, host: &HostName, turn: &TurnRow) {
    if ctx.config.failover != Failover::Move {
        return;
    }
    match failover::move_user(&ctx.pool, &ctx.queue, turn.user_id, host).await {
        Ok(Some(m)) => tracing::info!(
            user = %turn.user_id, from = %host, to = %m.to, queued_turns_moved = m.turns.len(),
            "failover: user moved to a healthy host"
        ),
        Ok(None) => tracing::info!(
            user = %turn.user_id, from = %host,
            "failover: no other healthy host (or the user was moved already)"
        ),
        Err(e) => tracing::warn!(user = %turn.user_id, error = %e, "failover failed"),
    }
}

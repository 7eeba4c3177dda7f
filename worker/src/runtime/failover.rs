//! After a turn found its host unreachable: the worker's failover policy
//! (`PALIADIN_FAILOVER`, see [`crate::hosts::Failover`] and `docs/hosts.md`).

use super::Ctx;
use crate::hosts::Failover;
use paliadin_shared::attempt::Attempt;

/// With `move`, re-pins the turn's user to a healthy host, with their queued turns. Runs before
/// the failed turn is finished, so its conversation's group stays held until the move is
/// committed; fenced by the attempt, so a worker that lost the turn meanwhile moves nobody. A
/// turn of the user's other conversations that a worker read from the old host meanwhile is
/// not claimed there: the claim checks the turn's host and message (`fenced::claim`).
pub async fn after_unreachable(ctx: &Ctx, attempt: &Attempt) {
    if ctx.config.failover != Failover::Move {
        return;
    }
    let (host, turn) = (attempt.host(), attempt.turn());
    match attempt.move_user().await {
        Ok(Some(m)) => tracing::info!(
            user = %turn.user_id, from = %host, to = %m.to, queued_turns_moved = m.turns.len(),
            "failover: user moved to a healthy host"
        ),
        Ok(None) => tracing::info!(
            user = %turn.user_id, from = %host,
            "failover: no other healthy host (or the user was moved already, or this attempt lost the turn)"
        ),
        Err(e) => tracing::warn!(user = %turn.user_id, error = %e, "failover failed"),
    }
}

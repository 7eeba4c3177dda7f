//! [`Attempt::permission`]: the worker's side of a permission request — record it once (fenced,
//! with its `permission` event), then wait for the owner's decision or deny it when it expires.

use super::Attempt;
use crate::db::permissions::{self, Decided, PermissionRow};
use crate::domain::permission::{DecidedBy, PermissionAnswer, PermissionAsk};
use std::time::Duration;

/// How often an open request is re-read while no notification arrives (a missed NOTIFY, e.g.
/// while the LISTEN connection reconnects, costs at most this much).
const RECHECK: Duration = Duration::from_secs(5);
/// Pause before retrying a failed database call.
const RETRY: Duration = Duration::from_millis(500);

impl Attempt {
    /// Records the agent's request `n` (once per turn: a takeover finds the same row, and no
    /// second event is written) and waits for its decision — the owner's, or a denial once it
    /// expires `wait` after it was first recorded. `None` when this attempt lost the turn (write
    /// no answer; the next attempt asks again).
    pub async fn permission(
        &self,
        n: u32,
        ask: &PermissionAsk,
        wait: Duration,
    ) -> Option<PermissionAnswer> {
        let mut row = self.open(n, ask, wait).await?;
        loop {
            if let Some(answer) = row.answer() {
                return Some(answer);
            }
            let left = (row.expires_at - chrono::Utc::now()).to_std().ok();
            let Some(left) = left.filter(|l| !l.is_zero()) else {
                return self.expire(&row, wait).await;
            };
            let decided = self.inner.control.decided.clone();
            tokio::select! {
                _ = self.inner.lost.cancelled() => return None,
                _ = decided.notified() => {}
                _ = tokio::time::sleep(left.min(RECHECK)) => {}
            }
            match permissions::read(&self.inner.pool, row.request_id).await {
                Ok(Some(r)) => row = r,
                Ok(None) => return None,
                Err(e) => tracing::warn!(error = %e, "cannot read a permission request; retrying"),
            }
        }
    }

    async fn open(&self, n: u32, ask: &PermissionAsk, wait: Duration) -> Option<PermissionRow> {
        let (pool, turn) = (&self.inner.pool, &self.inner.turn);
        let n = i32::try_from(n).ok()?;
        loop {
            match permissions::open(pool, turn.id, turn.attempt, n, ask, wait).await {
                Ok(Some(row)) => return Some(row),
                Ok(None) => {
                    self.inner.lose("permission request fenced out");
                    return None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot record a permission request; retrying");
                    tokio::select! {
                        _ = self.inner.lost.cancelled() => return None,
                        _ = tokio::time::sleep(RETRY) => {}
                    }
                }
            }
        }
    }

    /// Nobody decided in time: deny it (recorded, with its event), unless a decision landed
    /// first.
    async fn expire(&self, row: &PermissionRow, wait: Duration) -> Option<PermissionAnswer> {
        let why = format!(
            "nobody answered this permission request within {} s",
            wait.as_secs()
        );
        let denial = PermissionAnswer::denied(DecidedBy::Expired, &why);
        loop {
            let decided =
                permissions::decide(&self.inner.pool, None, row.turn_id, row.request_id, &denial)
                    .await;
            match decided {
                Ok(Decided::Decided(r) | Decided::AlreadyDecided(r)) => return r.answer(),
                Ok(Decided::TurnFinished | Decided::NotFound | Decided::Expired) => {
                    return Some(denial);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot record an expired permission request");
                    tokio::select! {
                        _ = self.inner.lost.cancelled() => return None,
                        _ = tokio::time::sleep(RETRY) => {}
                    }
                }
            }
        }
    }
}

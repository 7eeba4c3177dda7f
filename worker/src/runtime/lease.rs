//! Leases: a claimed message stays invisible while its worker heartbeats (`set_vt`), and every
//! renewal is fenced by the attempt — a worker that lost its turn cannot extend it.

use crate::driver::TurnControl;
use paliadin_shared::HostName;
use paliadin_shared::db::turns;
use paliadin_shared::queue::TurnQueue;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Renews once: `Some(cancel_requested)` while this attempt still owns the turn, `None` if fenced.
async fn renew(
    pool: &PgPool,
    queue: &TurnQueue,
    host: &HostName,
    msg_id: i64,
    turn_id: Uuid,
    attempt: i32,
    vt: i32,
) -> anyhow::Result<Option<bool>> {
    let mut tx = pool.begin().await?;
    let Some(cancel) = turns::check_fence(&mut tx, turn_id, attempt).await? else {
        return Ok(None);
    };
    queue.extend(&mut tx, host, msg_id, vt).await?;
    tx.commit().await?;
    Ok(Some(cancel))
}

/// Heartbeats until aborted. On fencing it fires `control.abandon` and `lost`; a cancel flag set
/// in the database (fallback for a missed NOTIFY) fires `control.cancel`.
#[allow(clippy::too_many_arguments)]
pub async fn hold(
    pool: PgPool,
    queue: Arc<TurnQueue>,
    host: HostName,
    msg_id: i64,
    turn_id: Uuid,
    attempt: i32,
    vt: i32,
    every: Duration,
    control: TurnControl,
    lost: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        match renew(&pool, &queue, &host, msg_id, turn_id, attempt, vt).await {
            Ok(Some(cancel)) => {
                if cancel {
                    control.cancel.cancel();
                }
            }
            Ok(None) => {
                tracing::warn!(%turn_id, attempt, "lease lost: another attempt owns the turn");
                lost.cancel();
                control.abandon.cancel();
                return;
            }
            Err(e) => tracing::warn!(%turn_id, error = %e, "lease renewal failed; retrying"),
        }
    }
}

/// Makes the message visible again at once (graceful shutdown), if this attempt still owns it.
pub async fn release(
    pool: &PgPool,
    queue: &TurnQueue,
    host: &HostName,
    msg_id: i64,
    turn_id: Uuid,
    attempt: i32,
) {
    if let Err(e) = renew(pool, queue, host, msg_id, turn_id, attempt, 0).await {
        tracing::warn!(%turn_id, error = %e, "cannot release the lease; it will lapse on its own");
    }
}

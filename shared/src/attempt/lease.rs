//! The lease of a claimed turn: a heartbeat renews the message's visibility timeout (`set_vt`)
//! while the turn runs, fenced by the attempt, and keeps a local deadline — if renewals fail
//! until the lease would have run out, the attempt lets go of the turn (another worker may
//! already hold it). Releasing (`set_vt 0`) checks ownership under the turn's row lock, in the
//! same transaction as the `set_vt`, so no claim can slip in between.

use super::Inner;
use crate::db::{DbError, fenced};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep_until, timeout_at};
use tokio_util::sync::{CancellationToken, DropGuard};

/// How long a read or a renewal keeps a message invisible, and how often it is renewed.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    /// The visibility timeout set by the read and by each renewal.
    pub secs: i32,
    /// The heartbeat period (a fraction of `secs`, so a renewal may fail and be retried).
    pub every: Duration,
}

impl Lease {
    fn length(&self) -> Duration {
        Duration::from_secs(self.secs.max(0) as u64)
    }
}

/// Starts the heartbeat of a claimed attempt; it stops when the returned guard is dropped.
pub(super) fn start(inner: Arc<Inner>, lease: Lease) -> DropGuard {
    // Before the turn is driven: the driver checks it before each action.
    inner
        .control
        .lease
        .set(inner.leased.read_at + lease.length());
    let stop = CancellationToken::new();
    tokio::spawn(beat(inner, lease, stop.clone()));
    stop.drop_guard()
}

async fn beat(inner: Arc<Inner>, lease: Lease, stop: CancellationToken) {
    let mut expires = inner.leased.read_at + lease.length();
    let mut tick = tokio::time::interval(lease.every);
    tick.tick().await;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            _ = sleep_until(expires) => return inner.lose("the lease ran out before a renewal succeeded"),
            _ = tick.tick() => {}
        }
        let sent = Instant::now();
        let renewed = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            r = timeout_at(expires, renew(&inner, lease.secs)) => r,
        };
        match renewed {
            Err(_) => return inner.lose("the lease ran out while renewing"),
            Ok(Ok(Some(cancel))) => {
                expires = sent + lease.length();
                inner.control.lease.set(expires);
                if cancel {
                    inner.control.cancel.cancel();
                }
            }
            Ok(Ok(None)) => return inner.lose("lease renewal fenced out"),
            Ok(Err(e)) => {
                tracing::warn!(turn_id = %inner.turn.id, error = %e, "lease renewal failed; retrying");
            }
        }
    }
}

/// Renews once: `Some(cancel_requested)` while this attempt still owns the turn, `None` if
/// fenced. No row lock: the attempt's own `finish` holds the turn row while it commits, and
/// the heartbeat must keep renewing meanwhile; a renewal that races a newer claim only keeps
/// the newer owner's message invisible a little longer.
///
/// One statement, one round trip ([`fenced::renew`]): the fence check and the message's new
/// visibility timeout, where it was a transaction of four.
async fn renew(inner: &Inner, vt: i32) -> Result<Option<bool>, DbError> {
    let (turn, leased) = (&inner.turn, &inner.leased);
    let queue = leased.host.queue_name();
    Ok(fenced::renew(
        &inner.pool,
        turn.id,
        turn.attempt,
        &queue,
        leased.msg_id,
        vt,
    )
    .await?)
}

/// Puts the turn back in the queue for `delay_secs` if this attempt still owns it: the turn
/// `queued` again with `ev` (its `status` event), the handover counted (`turns.releases`), and
/// the message invisible until then — one transaction, under the turn's row lock, as
/// [`release`].
pub(super) async fn defer(
    inner: &Inner,
    delay_secs: i32,
    ev: &crate::events::NewEvent,
) -> Result<bool, DbError> {
    let (turn, leased) = (&inner.turn, &inner.leased);
    let mut tx = inner.pool.begin().await?;
    if fenced::lock_fence(&mut tx, turn.id, turn.attempt)
        .await?
        .is_none()
    {
        return Ok(false);
    }
    if !fenced::defer(&mut tx, turn.id, turn.attempt, ev).await? {
        return Ok(false);
    }
    inner
        .queue
        .extend(&mut tx, &leased.host, leased.msg_id, delay_secs.max(0))
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Makes the message visible at once if this attempt still owns the turn, and counts the
/// handover (`turns.releases`): the check locks the turn row, so a concurrent claim waits for
/// this transaction and then sees the new visibility, and a release that comes after a newer
/// claim changes nothing.
pub(super) async fn release(inner: &Inner) -> Result<bool, DbError> {
    let (turn, leased) = (&inner.turn, &inner.leased);
    let mut tx = inner.pool.begin().await?;
    if fenced::lock_fence(&mut tx, turn.id, turn.attempt)
        .await?
        .is_none()
    {
        return Ok(false);
    }
    // A handover is not a failed attempt: counted apart, it does not bring the turn closer to
    // its dead letter (`PALIADIN_MAX_ATTEMPTS`), however many restarts it meets.
    fenced::count_release(&mut tx, turn.id, turn.attempt).await?;
    inner
        .queue
        .extend(&mut tx, &leased.host, leased.msg_id, 0)
        .await?;
    tx.commit().await?;
    Ok(true)
}

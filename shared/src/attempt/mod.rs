//! `Attempt`: one claimed turn — its row, its attempt number (the fencing token), the queue
//! message it came from — owning every write a worker makes for it.
//!
//! A worker reads a message ([`Leased`]), claims it with [`Claimer::claim`] (attempt + 1,
//! committed at once) and from then on talks to the database only through the `Attempt`:
//! [`Attempt::append`] events, [`Attempt::mark_delivered`], and exactly one ending —
//! [`Attempt::finish`] (result, terminal event and archive in one transaction) or
//! [`Attempt::release`] (make the message visible again at once, for another worker). Every
//! write is fenced by the attempt (`WHERE id = $1 AND attempt = $2`): a worker whose turn passed
//! to another attempt changes nothing, and the first write that notices fires
//! [`TurnControl::abandon`] so the driver lets go.
//!
//! The lease is renewed by a heartbeat ([`lease`]) that lives as long as the `Attempt`: it keeps
//! going until `finish` has committed, and it stops when the `Attempt` is dropped — including
//! when the task running the turn panics — so a dead turn's lease always lapses.

mod clock;
mod finish;
pub mod lease;
mod permission;

pub use clock::LeaseClock;
pub use finish::Outcome;
pub use lease::Lease;

use crate::db::{DbError, events, failover, fenced, turns};
use crate::domain::HostName;
use crate::events::{NewEvent, StatusState};
use crate::queue::{Leased, TurnQueue};
use sqlx::PgPool;
use std::sync::Arc;
use tokio_util::sync::{CancellationToken, DropGuard};

/// Signals from the worker to a running turn.
#[derive(Debug, Clone, Default)]
pub struct TurnControl {
    /// The user cancelled: interrupt the agent (Escape) and end the turn `cancelled`.
    pub cancel: CancellationToken,
    /// This worker lets go of the turn (its lease is lost, or it is shutting down): stop
    /// watching and leave the agent and its files alone — another worker takes over.
    pub abandon: CancellationToken,
    /// A permission decision on this turn was recorded (the worker's LISTEN on
    /// `paliadin_permission`): re-read the open request ([`Attempt::permission`]).
    pub decided: Arc<tokio::sync::Notify>,
    /// Until when this worker holds the turn, by its own clock (set by the lease heartbeat).
    pub lease: LeaseClock,
}

impl TurnControl {
    /// Whether the driver may still act on the agent (paste, Enter): the turn is not abandoned
    /// and its lease has not run out.
    pub fn may_act(&self) -> bool {
        !self.abandon.is_cancelled() && self.lease.running()
    }
}

/// What claiming needs besides the message: where to write, who claims, for how long.
#[derive(Clone)]
pub struct Claimer {
    pub pool: PgPool,
    pub queue: Arc<TurnQueue>,
    /// Recorded in `turns.worker_id` and in the `status` events.
    pub worker_id: String,
    pub lease: Lease,
    /// `PALIADIN_MAX_ATTEMPTS`: a claim that spends more gets no `claimed` event (the caller
    /// dead-letters it); every other claim writes its `claimed` event with the claim.
    pub max_attempts: i32,
}

impl Claimer {
    /// Claims a leased message: bumps the turn's attempt, writes its `claimed` status event (one
    /// statement, see [`Claimer::max_attempts`]) and starts the heartbeat. `None` when
    /// the turn is already finished (e.g. cancelled while queued): the stale message is archived.
    pub async fn claim(
        &self,
        leased: &Leased,
        control: TurnControl,
    ) -> Result<Option<Attempt>, DbError> {
        let claimed = NewEvent::status(
            StatusState::Claimed,
            Some(&self.worker_id),
            Some(leased.host.as_str()),
        );
        let with_event = Some((&claimed, self.max_attempts));
        let at = Some((leased.host.as_str(), leased.msg_id));
        let fenced = fenced::claim(&self.pool, leased.turn_id, &self.worker_id, at, with_event);
        let Some(turn) = fenced.await? else {
            let mut conn = self.pool.acquire().await?;
            self.queue
                .archive(&mut conn, &leased.host, leased.msg_id)
                .await?;
            return Ok(None);
        };
        if turn.cancel_requested {
            control.cancel.cancel();
        }
        let inner = Arc::new(Inner {
            pool: self.pool.clone(),
            queue: self.queue.clone(),
            leased: leased.clone(),
            turn,
            control,
            lost: CancellationToken::new(),
        });
        let heartbeat = lease::start(inner.clone(), self.lease);
        Ok(Some(Attempt {
            inner,
            _heartbeat: heartbeat,
        }))
    }
}

/// One claimed turn (see the module docs). Not `Clone`: there is one owner of the fencing token.
pub struct Attempt {
    inner: Arc<Inner>,
    /// Stops the heartbeat when the attempt is dropped (after `finish`/`release`, or on panic).
    _heartbeat: DropGuard,
}

/// The state the heartbeat task shares with the attempt.
struct Inner {
    pool: PgPool,
    queue: Arc<TurnQueue>,
    leased: Leased,
    /// The row as the claim returned it (`attempt` is this attempt's number).
    turn: turns::TurnRow,
    control: TurnControl,
    /// Fired once this attempt knows it no longer owns the turn: a fenced write changed nothing,
    /// a renewal was fenced, or renewals failed until the lease ran out. Unlike
    /// `control.abandon` (also fired on shutdown), it means "write nothing more, not even a
    /// release".
    lost: CancellationToken,
}

impl Inner {
    fn lose(&self, why: &str) {
        if !self.lost.is_cancelled() {
            tracing::warn!(turn_id = %self.turn.id, attempt = self.turn.attempt, "{why}: this attempt lets go of the turn");
        }
        self.lost.cancel();
        self.control.abandon.cancel();
    }
}

impl Attempt {
    /// The turn as claimed.
    pub fn turn(&self) -> &turns::TurnRow {
        &self.inner.turn
    }

    /// This attempt's number: the fencing token.
    pub fn number(&self) -> i32 {
        self.inner.turn.attempt
    }

    /// The host (queue) the message was read from.
    pub fn host(&self) -> &HostName {
        &self.inner.leased.host
    }

    pub fn control(&self) -> &TurnControl {
        &self.inner.control
    }

    /// Whether this attempt found out it no longer owns the turn.
    pub fn is_lost(&self) -> bool {
        self.inner.lost.is_cancelled()
    }

    /// Appends one event (fenced). False when fenced out (the attempt is then lost) or on a
    /// database error (logged; the event is skipped, the turn goes on).
    pub async fn append(&self, ev: &NewEvent) -> bool {
        self.append_all(std::slice::from_ref(ev)).await
    }

    /// Appends `evs` in order in one statement (fenced, like [`Attempt::append`]): the same
    /// outcomes, for all of them at once.
    pub async fn append_all(&self, evs: &[NewEvent]) -> bool {
        if evs.is_empty() {
            return true;
        }
        let i = &self.inner;
        let written = async {
            let mut conn = i.pool.acquire().await?;
            events::append_all(&mut conn, i.turn.id, Some(i.turn.attempt), evs).await
        };
        match written.await {
            Ok(Some(_)) => true,
            Ok(None) => {
                i.lose("event write fenced out");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot write events");
                false
            }
        }
    }

    /// A `status` event naming this worker and host.
    pub fn status_event(&self, state: StatusState) -> NewEvent {
        let worker = self.inner.turn.worker_id.as_deref();
        NewEvent::status(state, worker, Some(self.host().as_str()))
    }

    /// Records delivery (`delivered_at`, kept across takeovers) and its `status` event, in one
    /// statement.
    pub async fn mark_delivered(&self) -> bool {
        let i = &self.inner;
        let worker = i.turn.worker_id.as_deref();
        let ev = NewEvent::status(StatusState::Delivered, worker, Some(self.host().as_str()));
        match fenced::mark_delivered(&i.pool, i.turn.id, i.turn.attempt, &ev).await {
            Ok(Some(_)) => true,
            Ok(None) => {
                i.lose("delivery write fenced out");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot record delivery");
                false
            }
        }
    }

    /// Failover (worker policy `move`, after this turn found its host unreachable): re-pins
    /// the turn's user to a healthy host with their queued turns, fenced by this attempt — a
    /// stale attempt moves nobody. See [`failover::move_user`].
    pub async fn move_user(&self) -> Result<Option<failover::Moved>, DbError> {
        let i = &self.inner;
        let by = failover::MovedBy {
            turn: i.turn.id,
            attempt: i.turn.attempt,
        };
        failover::move_user(&i.pool, &i.queue, i.turn.user_id, &i.leased.host, by).await
    }

    /// Hands the turn back at once (`set_vt 0`) so another worker takes it over, unless this
    /// attempt is lost. The ownership check and `set_vt` are one step (see
    /// [`lease::release`]): a stale release cannot make a newer owner's message visible.
    pub async fn release(self) -> bool {
        if self.is_lost() {
            return false;
        }
        match lease::release(&self.inner).await {
            Ok(released) => released,
            Err(e) => {
                tracing::warn!(error = %e, "cannot release the lease; it will lapse on its own");
                false
            }
        }
    }

    /// Puts the turn back in the queue for `delay_secs` without spending an attempt (its host
    /// had no room for its agent; nothing was delivered): the turn is `queued` again with a
    /// `status` event `{state: "queued", reason}`, and its message comes back after the delay
    /// (the owner's later turns wait behind it). Fenced and atomic like [`Attempt::release`].
    pub async fn defer(self, delay_secs: i32, reason: &str) -> bool {
        if self.is_lost() {
            return false;
        }
        let mut ev = self.status_event(StatusState::Queued);
        ev.data["reason"] = serde_json::Value::from(reason);
        match lease::defer(&self.inner, delay_secs, &ev).await {
            Ok(deferred) => deferred,
            Err(e) => {
                tracing::warn!(error = %e, "cannot put the turn back in the queue; its lease will lapse on its own");
                false
            }
        }
    }

    /// Writes the outcome: result columns, terminal event and archive in one transaction,
    /// fenced. The heartbeat runs until it has committed. False when fenced out (nothing
    /// written; the message is left to its current owner).
    pub async fn finish(self, outcome: Outcome) -> Result<bool, DbError> {
        let done = finish::write(&self.inner, &outcome).await?;
        if !done {
            self.inner.lose("result fenced out");
        }
        Ok(done)
    }
}

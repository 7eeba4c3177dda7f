//! The transactional enqueue of a turn, and the pieces it shares with failover
//! ([`super::failover::move_user`] re-queues a user's turns the same way): the user row lock,
//! host pinning, the pgmq send on the same transaction, the first events, the work NOTIFY.
//!
//! In **one transaction**: lock the user row (so the per-user cap holds under concurrency and a
//! failover move sees every turn), answer a retried `client_turn_id` with its turn, check the
//! cap (resets count), pin the user to a host, insert the turn, send
//! its message, bind the uploads it names ([`super::uploads::bind`]), write `meta` and
//! `status: queued`, `pg_notify(paliadin_work, host)`. A failure
//! anywhere rolls everything back: no row without a message, no message without a row.
//!
//! Round trips, for a user already pinned: `BEGIN`, the lock, one statement for the cap, the
//! retry, the pin and the daily token budget ([`turns::admission`]), one for the row, its message and the work NOTIFY
//! ([`turns::insert_sent`]), one for both events ([`events::append_all`]), `COMMIT`: six (it
//! was twelve; docs/performance.md). The lock stays a statement of its own: under READ
//! COMMITTED a statement that waited for the lock would count with the snapshot taken before.

use crate::db::{DbError, WORK_CHANNEL, events, sessions, turns};
use crate::domain::{HostName, TurnKind, UserMessage};
use crate::events::{EventKind, NewEvent, StatusState};
use crate::queue::TurnQueue;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A turn to enqueue, validated.
#[derive(Debug, Clone)]
pub struct Enqueue<'a> {
    pub user: Uuid,
    /// The conversation; `None`: the user's latest (that of their newest turn), or a new one
    /// for a user with no turn yet — read under the user's lock, in the admission statement.
    pub session_id: Option<Uuid>,
    pub kind: TurnKind,
    pub message: &'a UserMessage,
    pub page_origin: Option<&'a str>,
    /// Makes retries idempotent (unique per user).
    pub client_turn_id: Option<&'a str>,
    /// Turns (messages and resets alike) refused once the user has this many queued.
    pub max_queued: i64,
    /// Where a user goes when no healthy host is known yet.
    pub fallback_host: &'a HostName,
    /// Model tokens a user's turns may use per UTC day; at or over it, new message turns are
    /// refused (resets are not: they use no model). None: no budget.
    pub daily_token_budget: Option<i64>,
    /// Pending uploads of the user's to bind to the turn, in order ([`super::uploads::bind`]).
    pub uploads: &'a [Uuid],
}

/// What an enqueue did.
#[derive(Debug)]
pub enum Enqueued {
    Queued(Box<turns::TurnRow>),
    /// The user's `client_turn_id` is taken (by an earlier or concurrent request): nothing was
    /// written; the caller answers with that turn (an idempotent retry), even at the cap.
    ClientIdTaken,
    /// The user has `max_queued` turns waiting: nothing was written.
    TooMany,
    /// The user's turns used `used` tokens today, at or over the daily budget: nothing was
    /// written.
    OverBudget {
        used: i64,
    },
    /// An upload id is not a pending upload of the user's (unknown, another owner's, or
    /// already bound to a turn): nothing was written.
    UnknownUpload,
}

/// Enqueues a turn (see the module docs).
pub async fn enqueue(
    pool: &PgPool,
    queue: &TurnQueue,
    req: &Enqueue<'_>,
) -> Result<Enqueued, DbError> {
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, req.user).await?;
    let budget = req
        .daily_token_budget
        .filter(|_| req.kind == TurnKind::Message);
    let turns::Admission {
        queued,
        taken,
        pinned,
        tokens_today,
        latest,
    } = turns::admission(&mut tx, req.user, req.client_turn_id, budget.is_some()).await?;
    // A retry whose turn exists (a concurrent retry committed it while this one waited for the
    // lock) is answered with that turn: checked before the cap, which that turn may have filled.
    if taken {
        return Ok(Enqueued::ClientIdTaken);
    }
    // Resets count too: they are queued turns of the user's like any other.
    if queued >= req.max_queued {
        return Ok(Enqueued::TooMany);
    }
    if budget.is_some_and(|b| tokens_today >= b) {
        return Ok(Enqueued::OverBudget { used: tokens_today });
    }
    let host = match pinned {
        Some(h) => HostName::parse(&h).map_err(|e| DbError::Invalid(e.0))?,
        None => sessions::pin_host(&mut tx, req.user, req.fallback_host).await?,
    };
    queue.ensure_in(&mut tx, &host).await?;
    let new = turns::NewTurn {
        id: Uuid::now_v7(),
        user_id: req.user,
        session_id: req.session_id.or(latest).unwrap_or_else(Uuid::now_v7),
        client_turn_id: req.client_turn_id,
        kind: req.kind,
        message: req.message.as_str(),
        page_origin: req.page_origin,
        host: host.as_str(),
    };
    let Some(row) = turns::insert_sent(&mut tx, &new, &host.queue_name(), WORK_CHANNEL).await?
    else {
        // Dropping the transaction rolls the message back with it.
        return Ok(Enqueued::ClientIdTaken);
    };
    if !super::uploads::bind(&mut tx, req.user, row.id, req.uploads).await? {
        // Dropping the transaction rolls back the turn and its message.
        return Ok(Enqueued::UnknownUpload);
    }
    let meta = NewEvent {
        kind: EventKind::Meta,
        data: json!({ "turn_id": row.id, "session_id": row.session_id, "queued_at": row.queued_at }),
    };
    let queued = NewEvent::status(StatusState::Queued, None, Some(host.as_str()));
    events::append_all(&mut tx, row.id, None, &[meta, queued]).await?;
    tx.commit().await?;
    Ok(Enqueued::Queued(Box::new(row)))
}

/// Takes the user row lock that every enqueue and every failover move takes, so a user's turns
/// are counted, pinned and moved one transaction at a time.
pub async fn lock_user(conn: &mut PgConnection, user: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

/// Wakes the workers of `host` (delivered at commit).
pub async fn notify_work(conn: &mut PgConnection, host: &HostName) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(WORK_CHANNEL)
        .bind(host.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

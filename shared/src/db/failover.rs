//! SQL for host failover: re-pinning a user whose host is unreachable, with their queued turns.
//!
//! Policy `move` (worker setting `PALIADIN_FAILOVER`, see `docs/hosts.md`): the turn that found
//! the host unreachable fails `host_unreachable` (it may have been delivered there, and a fresh
//! agent elsewhere would answer without the conversation); then, in **one transaction**, the
//! user is pinned to the healthy host with the fewest sessions (its `session_name` cleared, so
//! a fresh session is started there), and every turn of theirs still `queued` on the old host
//! is sent to the new host's queue and deleted from the old one, with a `status: queued` event
//! naming the new host. The user row is locked first, like [`super::enqueue`], so a concurrent
//! enqueue either lands before (and is moved) or after (and is routed to the new host).

use crate::db::enqueue::{lock_user, notify_work};
use crate::db::{DbError, events, fenced, sessions};
use crate::domain::HostName;
use crate::events::{NewEvent, StatusState};
use crate::queue::TurnQueue;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// What a failover did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub to: HostName,
    /// Queued turns that moved with the user.
    pub turns: Vec<Uuid>,
}

/// The healthy host other than `from` with the fewest pinned users.
pub async fn healthy_target(pool: &PgPool, from: &HostName) -> Result<Option<HostName>, DbError> {
    let mut conn = pool.acquire().await?;
    sessions::healthy_host(&mut conn, Some(from)).await
}

/// The claimed attempt on whose behalf a move runs (see [`crate::attempt::Attempt::move_user`]):
/// the move happens only while that attempt still owns its turn.
#[derive(Debug, Clone, Copy)]
pub struct MovedBy {
    pub turn: Uuid,
    pub attempt: i32,
}

/// Moves `user` off `from` (see module docs), fenced by the caller's attempt: checked under
/// the turn's row lock in the move's transaction, so a worker whose turn passed to another
/// attempt (its lease lapsed while it found the host unreachable) moves nobody. `None`: no
/// healthy host, the caller no longer owns its turn, or the user is no longer pinned to `from`
/// (another worker moved them first).
pub async fn move_user(
    pool: &PgPool,
    queue: &TurnQueue,
    user: Uuid,
    from: &HostName,
    by: MovedBy,
) -> Result<Option<Moved>, DbError> {
    let Some(to) = healthy_target(pool, from).await? else {
        return Ok(None);
    };
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user).await?;
    if fenced::lock_fence(&mut tx, by.turn, by.attempt)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    queue.ensure_in(&mut tx, &to).await?;
    if repin(&mut tx, user, from, &to).await? == 0 {
        return Ok(None);
    }
    let queued: Vec<(Uuid, Uuid, Option<i64>)> = sqlx::query_as(
        "SELECT id, session_id, msg_id FROM turns
          WHERE user_id = $1 AND host = $2 AND state = 'queued'
          ORDER BY queued_at, id FOR UPDATE",
    )
    .bind(user)
    .bind(from.as_str())
    .fetch_all(&mut *tx)
    .await?;
    let mut turns = Vec::with_capacity(queued.len());
    // Sent in their queued order, so each conversation's turns keep their order on `to`.
    for (id, session, old_msg) in queued {
        let msg = queue.send(&mut tx, &to, id, session).await?;
        if let Some(old) = old_msg {
            queue.delete(&mut tx, from, old).await?;
        }
        sqlx::query("UPDATE turns SET host = $2, msg_id = $3 WHERE id = $1")
            .bind(id)
            .bind(to.as_str())
            .bind(msg)
            .execute(&mut *tx)
            .await?;
        let ev = NewEvent::status(StatusState::Queued, None, Some(to.as_str()));
        events::append(&mut tx, id, None, &ev).await?;
        turns.push(id);
    }
    notify_work(&mut tx, &to).await?;
    tx.commit().await?;
    Ok(Some(Moved { to, turns }))
}

/// Users pinned to `host`, oldest use first (candidates for draining).
pub async fn pinned_users(
    pool: &PgPool,
    host: &HostName,
    limit: i64,
) -> Result<Vec<Uuid>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT user_id FROM agent_sessions WHERE host = $1 ORDER BY last_used_at LIMIT $2",
    )
    .bind(host.as_str())
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Re-pins `user` from `from` to `to` (fresh session there) only if they have no turn queued
/// or running anywhere: checked under the user row lock that every enqueue takes, so no turn
/// can appear meanwhile and a user's turns never run on two hosts at once. `false`: not idle,
/// or no longer pinned to `from`.
pub async fn move_if_idle(
    pool: &PgPool,
    user: Uuid,
    from: &HostName,
    to: &HostName,
) -> Result<bool, DbError> {
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user).await?;
    let busy: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM turns WHERE user_id = $1 AND state IN ('queued', 'running'))",
    )
    .bind(user)
    .fetch_one(&mut *tx)
    .await?;
    if busy {
        return Ok(false);
    }
    let moved = repin(&mut tx, user, from, to).await? == 1;
    tx.commit().await?;
    Ok(moved)
}

/// Pins `user` to `to` if still pinned to `from`, clearing the session name (a fresh session
/// starts there); returns the rows changed (0: no longer pinned to `from`).
async fn repin(
    conn: &mut PgConnection,
    user: Uuid,
    from: &HostName,
    to: &HostName,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE agent_sessions SET host = $3, session_name = NULL, health = 'unknown'
          WHERE user_id = $1 AND host = $2",
    )
    .bind(user)
    .bind(from.as_str())
    .bind(to.as_str())
    .execute(conn)
    .await?
    .rows_affected())
}

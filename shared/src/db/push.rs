//! SQL for Web Push: the VAPID key pair (`push_vapid`), the owners' subscriptions
//! (`push_subscriptions`) and the outbox of pushes to send (`push_outbox`, filled by a trigger
//! on `turn_events` in the event's own transaction; see the migration `…_push.sql`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// The channel the outbox trigger notifies when it added rows (empty payload).
pub const PUSH_CHANNEL: &str = "paliadin_push";

/// The stored VAPID key pair: the P-256 private scalar and the uncompressed public point.
#[derive(Clone, FromRow)]
pub struct VapidRow {
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
}

/// The key pair, inserting `fresh` first if there is none yet. Several processes starting at
/// once all end up with the one that was committed first.
pub async fn vapid_key(pool: &PgPool, fresh: &VapidRow) -> Result<VapidRow, sqlx::Error> {
    sqlx::query(
        "INSERT INTO push_vapid (id, private_key, public_key) VALUES (1, $1, $2)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&fresh.private_key)
    .bind(&fresh.public_key)
    .execute(pool)
    .await?;
    sqlx::query_as("SELECT private_key, public_key FROM push_vapid WHERE id = 1")
        .fetch_one(pool)
        .await
}

/// What [`subscribe`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    /// A new subscription.
    Created(Uuid),
    /// The user had this endpoint already; its keys were replaced.
    Updated(Uuid),
    /// The user has `cap` subscriptions already.
    TooMany,
}

/// Stores a subscription of `user` (one row per user and endpoint), at most `cap` per user.
/// The user's row lock makes the cap hold under concurrent requests.
pub async fn subscribe(
    pool: &PgPool,
    user: Uuid,
    endpoint: &str,
    p256dh: &[u8],
    auth: &[u8],
    cap: i64,
) -> Result<Subscribed, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    let existing: Option<Uuid> = sqlx::query_scalar(
        "UPDATE push_subscriptions SET p256dh = $3, auth = $4
          WHERE user_id = $1 AND endpoint = $2 RETURNING id",
    )
    .bind(user)
    .bind(endpoint)
    .bind(p256dh)
    .bind(auth)
    .fetch_optional(&mut *tx)
    .await?;
    let done = match existing {
        Some(id) => Subscribed::Updated(id),
        None => {
            let count: i64 =
                sqlx::query_scalar("SELECT count(*) FROM push_subscriptions WHERE user_id = $1")
                    .bind(user)
                    .fetch_one(&mut *tx)
                    .await?;
            if count >= cap {
                return Ok(Subscribed::TooMany);
            }
            let id = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(user)
            .bind(endpoint)
            .bind(p256dh)
            .bind(auth)
            .execute(&mut *tx)
            .await?;
            Subscribed::Created(id)
        }
    };
    tx.commit().await?;
    Ok(done)
}

/// Removes a subscription of `user` (and its unsent pushes); false when there is no such one.
pub async fn unsubscribe(pool: &PgPool, user: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .execute(pool)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The push service said the subscription is gone (404/410): forget it and its pushes.
pub async fn forget(pool: &PgPool, subscription: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
        .bind(subscription)
        .execute(pool)
        .await?;
    Ok(())
}

/// One claimed push: where it goes and what it is about.
#[derive(Debug, Clone, FromRow)]
pub struct Due {
    pub id: i64,
    /// Attempts including this one.
    pub tries: i32,
    pub subscription_id: Uuid,
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
    pub turn_id: Uuid,
    pub session_id: Uuid,
    pub kind: crate::events::EventKind,
    /// The event's data (the payload takes only a short part of it).
    pub data: Value,
}

/// Claims up to `limit` due pushes for `lease_secs` and commits at once: no transaction stays
/// open while the pushes go out. Concurrent senders (other API processes) skip rows another
/// one is claiming; a sender that dies leaves its rows to be claimed again after the lease.
pub async fn claim(pool: &PgPool, limit: i64, lease_secs: f64) -> Result<Vec<Due>, sqlx::Error> {
    sqlx::query_as(
        "WITH picked AS (
             SELECT id FROM push_outbox WHERE next_at <= clock_timestamp()
              ORDER BY next_at, id LIMIT $1 FOR UPDATE SKIP LOCKED
         ), claimed AS (
             UPDATE push_outbox o
                SET tries = o.tries + 1,
                    next_at = clock_timestamp() + make_interval(secs => $2)
               FROM picked WHERE o.id = picked.id
          RETURNING o.id, o.tries, o.subscription_id, o.turn_id, o.seq, o.kind
         )
         SELECT c.id, c.tries, c.subscription_id, s.endpoint, s.p256dh, s.auth,
                c.turn_id, t.session_id, c.kind, e.data
           FROM claimed c
           JOIN push_subscriptions s ON s.id = c.subscription_id
           JOIN turns t ON t.id = c.turn_id
           JOIN turn_events e ON e.turn_id = c.turn_id AND e.seq = c.seq
          ORDER BY c.id",
    )
    .bind(limit)
    .bind(lease_secs)
    .fetch_all(pool)
    .await
}

/// The push service accepted it: the row goes, the subscription notes when.
pub async fn sent(pool: &PgPool, due: &Due) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH gone AS (DELETE FROM push_outbox WHERE id = $1)
         UPDATE push_subscriptions SET last_sent_at = now() WHERE id = $2",
    )
    .bind(due.id)
    .bind(due.subscription_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Not sent; try again after `delay_secs`.
pub async fn retry_later(
    pool: &PgPool,
    id: i64,
    delay_secs: f64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE push_outbox SET next_at = clock_timestamp() + make_interval(secs => $2),
                last_error = left($3, 500)
          WHERE id = $1",
    )
    .bind(id)
    .bind(delay_secs)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// Not sent and not worth another try (retries used up, or refused for good).
pub async fn give_up(pool: &PgPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM push_outbox WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// When the next row becomes due (None: the outbox is empty).
pub async fn next_due(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT min(next_at) FROM push_outbox")
        .fetch_one(pool)
        .await
}

//! SQL for `turn_events`: fenced appends with their NOTIFY, and replay after a sequence number.

use crate::db::EVENTS_CHANNEL;
use crate::events::{EventKind, NewEvent};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

/// One stored event.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct EventRow {
    pub seq: i32,
    pub kind: EventKind,
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

/// Appends an event and queues its notification (`turn_id:seq`, delivered at commit), in one
/// statement. `fence` = the attempt the writer claimed: when the turn's attempt differs (the
/// lease passed to another worker), nothing is written and `None` comes back. `fence = None` is
/// for the API's own writes (meta/queued/cancelled), which are guarded by the caller's state check.
pub async fn append(
    conn: &mut PgConnection,
    turn_id: Uuid,
    fence: Option<i32>,
    ev: &NewEvent,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH bump AS (
             UPDATE turns SET last_seq = last_seq + 1
              WHERE id = $1 AND ($2::int IS NULL OR attempt = $2)
          RETURNING id, last_seq
         ), ins AS (
             INSERT INTO turn_events (turn_id, seq, kind, data)
             SELECT id, last_seq, $3, $4 FROM bump
          RETURNING seq
         )
         SELECT seq, pg_notify($5, $1::text || ':' || seq) FROM ins",
    )
    .bind(turn_id)
    .bind(fence)
    .bind(ev.kind)
    .bind(&ev.data)
    .bind(EVENTS_CHANNEL)
    .fetch_optional(conn)
    .await
}

/// Appends `evs` in order with consecutive seqs, in one statement, like [`append`] (same
/// fence); one notification, with the last seq, wakes the turn's streams for all of them.
/// Returns the last seq; `None` when fenced out or `evs` is empty.
pub async fn append_all(
    conn: &mut PgConnection,
    turn_id: Uuid,
    fence: Option<i32>,
    evs: &[NewEvent],
) -> Result<Option<i32>, sqlx::Error> {
    if evs.is_empty() {
        return Ok(None);
    }
    let kinds: Vec<EventKind> = evs.iter().map(|e| e.kind).collect();
    let data: Vec<&Value> = evs.iter().map(|e| &e.data).collect();
    sqlx::query_scalar(
        "WITH bump AS (
             UPDATE turns SET last_seq = last_seq + cardinality($3::text[])
              WHERE id = $1 AND ($2::int IS NULL OR attempt = $2)
          RETURNING id, last_seq
         ), ins AS (
             INSERT INTO turn_events (turn_id, seq, kind, data)
             SELECT b.id, b.last_seq - cardinality($3::text[]) + e.n::int, e.kind, e.data
               FROM bump b, unnest($3::text[], $4::jsonb[]) WITH ORDINALITY AS e(kind, data, n)
          RETURNING seq
         ), last AS (SELECT max(seq) AS seq FROM ins)
         SELECT seq, pg_notify($5, $1::text || ':' || seq) FROM last WHERE seq IS NOT NULL",
    )
    .bind(turn_id)
    .bind(fence)
    .bind(&kinds)
    .bind(&data)
    .bind(EVENTS_CHANNEL)
    .fetch_optional(conn)
    .await
}

/// What earlier attempts already streamed for a turn: the concatenated `content` deltas and the
/// number of `activity` events (a takeover skips them when the agent's files replay).
pub async fn streamed(pool: &PgPool, turn_id: Uuid) -> Result<(String, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COALESCE(string_agg(data->>'delta', '' ORDER BY seq)
                             FILTER (WHERE kind = 'content'), ''),
                count(*) FILTER (WHERE kind = 'activity')
           FROM turn_events WHERE turn_id = $1",
    )
    .bind(turn_id)
    .fetch_one(pool)
    .await
}

/// The newest event seq of each of `turns` that has events (the SSE hub's resync).
pub async fn newest_seqs(pool: &PgPool, turns: &[Uuid]) -> Result<Vec<(Uuid, i32)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT turn_id, max(seq) FROM turn_events WHERE turn_id = ANY($1) GROUP BY turn_id",
    )
    .bind(turns)
    .fetch_all(pool)
    .await
}

/// Events of a turn with `seq > after`, in order.
pub async fn list_after(
    pool: &PgPool,
    turn_id: Uuid,
    after: i32,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, kind, data, created_at FROM turn_events WHERE turn_id = $1 AND seq > $2 ORDER BY seq",
    )
    .bind(turn_id)
    .bind(after)
    .fetch_all(pool)
    .await
}

/// At most `limit` events of a turn with `seq > after`, in order (a page of a replay).
pub async fn page_after(
    pool: &PgPool,
    turn_id: Uuid,
    after: i32,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, kind, data, created_at FROM turn_events
          WHERE turn_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(turn_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

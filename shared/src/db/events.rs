//! SQL for `turn_events`: fenced appends with their NOTIFY, and replay after a sequence number.

use super::append::{self, append_sql};
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
/// statement ([`super::append::append_sql!`], the statement every event goes through). `fence`
/// = the attempt the writer claimed: when the turn's attempt differs (the lease passed to another
/// worker), nothing is written and `None` comes back. `fence = None` is for the API's own writes
/// (meta/queued/cancelled), which are guarded by the caller's state check. Returns the event's
/// seq.
pub async fn append(
    conn: &mut PgConnection,
    turn_id: Uuid,
    fence: Option<i32>,
    ev: &NewEvent,
) -> Result<Option<i32>, sqlx::Error> {
    append_all(conn, turn_id, fence, std::slice::from_ref(ev)).await
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
    let sql = append_sql!(set: "", filter: "", returning: "", with: "", select: "");
    let row: Option<(Option<i32>,)> = append::bind(sqlx::query_as(sql), turn_id, fence, evs)
        .fetch_optional(conn)
        .await?;
    Ok(row.and_then(|(seq,)| seq))
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

/// The highest work-log step number written for a turn (0 without steps): a takeover's sink
/// skips the steps up to it.
pub async fn steps_written(pool: &PgPool, turn_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(max((data->>'n')::bigint), 0) FROM turn_events
          WHERE turn_id = $1 AND kind = 'step'",
    )
    .bind(turn_id)
    .fetch_one(pool)
    .await
}

/// How many work-log steps each of `turns` has (turns without steps are left out): the
/// history's `steps`, so the page offers a work log only where there is one.
pub async fn step_counts(pool: &PgPool, turns: &[Uuid]) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT turn_id, count(*) FROM turn_events
          WHERE turn_id = ANY($1) AND kind = 'step' GROUP BY turn_id",
    )
    .bind(turns)
    .fetch_all(pool)
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

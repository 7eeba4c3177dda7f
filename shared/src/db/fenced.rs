//! SQL of a worker's claim and its fenced writes on `turns` (see
//! [`crate::attempt::Attempt`]). Every write is conditional on the attempt it claimed
//! (`AND attempt = $n`): a worker whose lease passed to another can change nothing.

use super::append::{self, append_sql};
use super::turns::{TurnRow, cols};
use crate::domain::trailer::Reply;
use crate::events::{ErrorCode, NewEvent};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Claims a turn for a new attempt. `None` when the turn is already finished (stale message).
///
/// With `claimed = Some((event, max_spent))` the attempt's `claimed` status event is appended
/// (and notified) in the same statement — one commit — unless the attempt spends more than
/// `max_spent` ([`TurnRow::spent_attempts`]: the caller dead-letters that one instead).
pub async fn claim(
    pool: &PgPool,
    id: Uuid,
    worker: &str,
    at: Option<(&str, i64)>,
    claimed: Option<(&NewEvent, i32)>,
) -> Result<Option<TurnRow>, sqlx::Error> {
    let (event, max_spent) = match claimed {
        Some((ev, max)) => (std::slice::from_ref(ev), max),
        None => (&[][..], -1),
    };
    // `$6` = max_spent, `$7` = worker. The event goes in only while the claim's attempt (the
    // old `attempt + 1`, the new `attempt`) spends no more than max_spent. `$8`, `$9`: the
    // queue (host) and message the claim was read from, when given: a turn whose message moved
    // meanwhile (a failover re-sent it to another host, which turns of other conversations of
    // the same owner may see while one of them is being read) is not claimed from the old one.
    let sql = append_sql!(
        set: ", attempt = attempt + 1, state = 'running', worker_id = $7,
               claimed_at = COALESCE(claimed_at, clock_timestamp())",
        filter: "AND state IN ('queued', 'running')
                 AND ($8::text IS NULL OR (host = $8 AND (msg_id IS NULL OR msg_id = $9)))",
        added: (
            "(attempt + 1 - releases <= $6)::int * cardinality($3::text[])",
            "(attempt - releases <= $6)::int * cardinality($3::text[])"
        ),
        returning: concat!(", ", cols!()),
        with: "",
        select: concat!(", ", cols!()),
    );
    append::bind(sqlx::query_as(sql), id, None, event)
        .bind(max_spent)
        .bind(worker)
        .bind(at.map(|(host, _)| host))
        .bind(at.map(|(_, msg)| msg))
        .fetch_optional(pool)
        .await
}

/// Is this attempt still the turn's current one (and is a cancel asked for)? `None` = fenced out.
pub async fn check_fence(
    conn: &mut PgConnection,
    id: Uuid,
    attempt: i32,
) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT cancel_requested FROM turns WHERE id = $1 AND attempt = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(attempt)
    .fetch_optional(conn)
    .await
}

/// A lease renewal in one statement: [`check_fence`] (no row lock) and, only if it passes, the
/// queue message's visibility timeout set to `vt_secs` from now (what `pgmq.set_vt` does,
/// written into the statement by [`crate::queue::queue_sql`]). `None` = fenced out (nothing
/// written), else whether a cancel is asked for.
pub async fn renew(
    pool: &PgPool,
    id: Uuid,
    attempt: i32,
    queue: &str,
    msg_id: i64,
    vt_secs: i32,
) -> Result<Option<bool>, sqlx::Error> {
    let sql = crate::queue::queue_sql(
        "WITH f AS (
             SELECT cancel_requested FROM turns WHERE id = $1 AND attempt = $2 AND state = 'running'
         ), v AS (
             UPDATE pgmq.{q} SET vt = clock_timestamp() + make_interval(secs => $4::int)
              WHERE msg_id = $3 AND EXISTS (SELECT 1 FROM f)
         )
         SELECT cancel_requested FROM f",
        queue,
    );
    sqlx::query_scalar(sql)
        .bind(id)
        .bind(attempt)
        .bind(msg_id)
        .bind(vt_secs)
        .fetch_optional(pool)
        .await
}

/// [`check_fence`] under the turn's row lock (held until the caller's transaction ends): a
/// concurrent claim waits, so what the caller does next is still done by the owner.
pub async fn lock_fence(
    conn: &mut PgConnection,
    id: Uuid,
    attempt: i32,
) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT cancel_requested FROM turns WHERE id = $1 AND attempt = $2 AND state = 'running'
            FOR UPDATE",
    )
    .bind(id)
    .bind(attempt)
    .fetch_optional(conn)
    .await
}

/// Counts a graceful handover of this attempt (its release), so that it does not spend one of
/// the turn's attempts ([`TurnRow::spent_attempts`]). Fenced: false when another attempt owns
/// the turn. Runs in the release's transaction, under [`lock_fence`].
pub async fn count_release(
    conn: &mut PgConnection,
    id: Uuid,
    attempt: i32,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE turns SET releases = releases + 1
          WHERE id = $1 AND attempt = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(attempt)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts a running turn back in the queue (a deferral: its host had no room for its agent):
/// `state = 'queued'`, the handover counted in `releases` (so it spends no attempt), and `ev`
/// (its `status` event) appended, in one statement, fenced. False when another attempt owns
/// the turn. Runs in the deferral's transaction, under [`lock_fence`].
pub async fn defer(
    conn: &mut PgConnection,
    id: Uuid,
    attempt: i32,
    ev: &NewEvent,
) -> Result<bool, sqlx::Error> {
    let sql = append_sql!(
        set: ", state = 'queued', releases = releases + 1",
        filter: "AND state = 'running'",
        returning: "",
        with: "",
        select: "",
    );
    let row: Option<(Option<i32>,)> = append::bind(
        sqlx::query_as(sql),
        id,
        Some(attempt),
        std::slice::from_ref(ev),
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Records delivery (first delivery time is kept across takeovers) and appends `ev` (its
/// `status` event) in one statement. `None` = fenced out (nothing written).
pub async fn mark_delivered(
    pool: &PgPool,
    id: Uuid,
    attempt: i32,
    ev: &NewEvent,
) -> Result<Option<i32>, sqlx::Error> {
    let sql = append_sql!(
        set: ", delivered_at = COALESCE(delivered_at, clock_timestamp())",
        filter: "AND state = 'running'",
        returning: "",
        with: "",
        select: "",
    );
    let row: Option<(Option<i32>,)> = append::bind(
        sqlx::query_as(sql),
        id,
        Some(attempt),
        std::slice::from_ref(ev),
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(seq,)| seq))
}

/// The terminal event of a finish and the queue message it archives.
#[derive(Debug, Clone, Copy)]
pub struct Terminal<'a> {
    pub event: &'a NewEvent,
    pub queue: &'a str,
    pub msg_id: i64,
}

/// Why a turn failed, as the result columns hold it.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    pub code: ErrorCode,
    pub message: &'a str,
    /// Reply text worth keeping (kept from an earlier write when `None`).
    pub text: Option<&'a str>,
    /// An `agent_error`'s kind.
    pub kind: Option<&'a str>,
}

/// A finish in **one statement** (fenced by the attempt, and only while the turn runs): the
/// result columns (`set`, its parameters from `$7`), `finished_at`, the terminal event with the
/// next seq ([`append_sql!`], with its NOTIFY at commit), the archive of the queue message
/// `$6` (what `pgmq.archive` does: the message moved to the queue's archive table, written
/// into the statement by [`crate::queue::queue_sql`]). The statement returns the event's seq;
/// no row = fenced out, nothing written.
macro_rules! finish_sql {
    ($set:literal) => {
        append_sql!(
            set: concat!(", ", $set, ", finished_at = clock_timestamp()"),
            filter: "AND state = 'running'",
            returning: "",
            with: ", del AS (
                 DELETE FROM pgmq.{q} m WHERE m.msg_id = $6::bigint AND EXISTS (SELECT 1 FROM bump)
              RETURNING m.msg_id, m.vt, m.read_ct, m.enqueued_at, m.last_read_at, m.message, m.headers
             ), arch AS (
                 INSERT INTO pgmq.{a} (msg_id, vt, read_ct, enqueued_at, last_read_at, message, headers)
                 SELECT * FROM del RETURNING msg_id
             )",
            select: ", EXISTS (SELECT 1 FROM arch) AS archived",
        )
    };
}

type FinishQuery<'q> =
    sqlx::query::QueryAs<'q, sqlx::Postgres, (Option<i32>, bool), sqlx::postgres::PgArguments>;

fn finish_query<'q>(
    sql: &'static str,
    id: Uuid,
    attempt: i32,
    t: &Terminal<'q>,
) -> FinishQuery<'q> {
    append::bind(
        sqlx::query_as(crate::queue::queue_sql(sql, t.queue)),
        id,
        Some(attempt),
        std::slice::from_ref(t.event),
    )
    .bind(t.msg_id)
}

/// Finishes a turn successfully (see `finish_sql!`). False = fenced out.
pub async fn finish_succeeded(
    pool: &PgPool,
    id: Uuid,
    attempt: i32,
    reply: &Reply,
    t: &Terminal<'_>,
) -> Result<bool, sqlx::Error> {
    let sql = finish_sql!(
        "state = 'succeeded', reply_text = $7, used_tools = $8, rows_seen = $9,
         chip_count = $10, classifier_tag = $11, agent = $12"
    );
    let row = finish_query(sql, id, attempt, t)
        .bind(&reply.text)
        .bind(&reply.trailer.used_tools)
        .bind(reply.trailer.rows_seen)
        .bind(reply.trailer.chip_count)
        .bind(&reply.trailer.classifier_tag)
        .bind(reply.agent)
        .fetch_optional(pool)
        .await?;
    Ok(row.is_some())
}

/// Fails a running turn (see `finish_sql!`). False = fenced out.
pub async fn finish_failed(
    pool: &PgPool,
    id: Uuid,
    attempt: i32,
    failure: &Failure<'_>,
    t: &Terminal<'_>,
) -> Result<bool, sqlx::Error> {
    let sql = finish_sql!(
        "state = 'failed', error_code = $7, error_message = $8,
         reply_text = COALESCE($9, reply_text), error_kind = $10"
    );
    let row = finish_query(sql, id, attempt, t)
        .bind(failure.code.as_str())
        .bind(failure.message)
        .bind(failure.text)
        .bind(failure.kind)
        .fetch_optional(pool)
        .await?;
    Ok(row.is_some())
}

/// Marks a running turn cancelled (see `finish_sql!`). False = fenced out.
pub async fn finish_cancelled(
    pool: &PgPool,
    id: Uuid,
    attempt: i32,
    t: &Terminal<'_>,
) -> Result<bool, sqlx::Error> {
    let sql = finish_sql!("state = 'cancelled'");
    let row = finish_query(sql, id, attempt, t)
        .fetch_optional(pool)
        .await?;
    Ok(row.is_some())
}

//! SQL for `turns`: enqueue rows and ownership-scoped reads. A worker's claim and its fenced
//! writes are in [`super::fenced`], a person's cancel in [`super::cancel`].

use crate::domain::{HostName, TurnKind, TurnState};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

/// Columns every read returns (a macro so queries stay `&'static str`, which sqlx requires).
macro_rules! cols {
    () => {
        "id, user_id, session_id, client_turn_id, kind, message, page_origin, host, msg_id, state,
    attempt, releases, last_seq, worker_id, cancel_requested, queued_at, claimed_at, delivered_at, finished_at,
    reply_text, used_tools, rows_seen, chip_count, classifier_tag, error_code, error_message, error_kind, agent"
    };
}
pub(super) use cols;

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct TurnRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub client_turn_id: Option<String>,
    pub kind: TurnKind,
    #[serde(skip)]
    pub message: String,
    pub page_origin: Option<String>,
    pub host: HostName,
    pub msg_id: Option<i64>,
    pub state: TurnState,
    pub attempt: i32,
    /// Claims that ended in a graceful handover (release): they do not count toward the
    /// dead-letter limit ([`TurnRow::spent_attempts`]).
    pub releases: i32,
    pub last_seq: i32,
    pub worker_id: Option<String>,
    pub cancel_requested: bool,
    pub queued_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub reply_text: Option<String>,
    pub used_tools: Option<Vec<String>>,
    pub rows_seen: Option<i32>,
    pub chip_count: Option<i32>,
    pub classifier_tag: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// An `agent_error`'s kind (`rate_limit`, `overloaded`, …).
    pub error_kind: Option<String>,
    /// The kind of agent that answered (succeeded turns of workers that record it).
    pub agent: Option<crate::domain::AgentKind>,
}

impl TurnRow {
    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }

    /// Attempts that count toward `PALIADIN_MAX_ATTEMPTS`: every claim but the ones handed
    /// over gracefully (a worker's SIGTERM release is not the turn's fault).
    pub fn spent_attempts(&self) -> i32 {
        self.attempt - self.releases
    }
}

/// What the API inserts.
#[derive(Debug, Clone)]
pub struct NewTurn<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub client_turn_id: Option<&'a str>,
    pub kind: TurnKind,
    pub message: &'a str,
    pub page_origin: Option<&'a str>,
    pub host: &'a str,
}

/// Inserts a turn and sends its pgmq message in **one statement**: the message inserted into the
/// host's queue table as `pgmq.send(queue, body, headers)` inserts it (visible at once; body and
/// headers from [`crate::queue::TurnQueue::payload`], grouped by the turn's conversation;
/// written as a plain insert, [`crate::queue::queue_sql`], so that its plan is kept), the row
/// with that `msg_id`, and `pg_notify(work_channel, host)` (delivered at commit). `None` when
/// the user's `client_turn_id` is taken: the caller rolls back, and the message goes with it.
pub async fn insert_sent(
    conn: &mut PgConnection,
    t: &NewTurn<'_>,
    queue_name: &str,
    work_channel: &str,
) -> Result<Option<TurnRow>, sqlx::Error> {
    let (body, headers) = crate::queue::TurnQueue::payload(t.id, t.session_id);
    let sql = crate::queue::queue_sql(
        concat!(
            "WITH m AS (
                 INSERT INTO pgmq.{q} (vt, message, headers)
                 VALUES (clock_timestamp(), $9::jsonb, $10::jsonb) RETURNING msg_id),
              t AS (
             INSERT INTO turns (id, user_id, session_id, client_turn_id, kind, message, page_origin, host, msg_id)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, m.msg_id FROM m
             ON CONFLICT (user_id, client_turn_id) DO NOTHING
             RETURNING ",
            cols!(),
            ")
         SELECT t.*, pg_notify($11, $8) IS NULL AS notified FROM t"
        ),
        queue_name,
    );
    sqlx::query_as(sql)
        .bind(t.id)
        .bind(t.user_id)
        .bind(t.session_id)
        .bind(t.client_turn_id)
        .bind(t.kind)
        .bind(t.message)
        .bind(t.page_origin)
        .bind(t.host)
        .bind(body)
        .bind(headers)
        .bind(work_channel)
        .fetch_optional(conn)
        .await
}

/// What an enqueue must know under the user's lock, in one statement.
#[derive(Debug, sqlx::FromRow)]
pub struct Admission {
    /// The user's queued turns.
    pub queued: i64,
    /// Its `client_turn_id` (if any) is taken.
    pub taken: bool,
    /// Its pinned host (if any).
    pub pinned: Option<String>,
    /// The model tokens its turns used today (UTC); 0 unless a daily budget was given.
    pub tokens_today: i64,
    /// The conversation of its newest turn (through `turns_user_latest`), if any.
    pub latest: Option<Uuid>,
}

/// [`Admission`] of `user`; `budget`: whether a daily token budget applies (only then are
/// today's tokens summed, through the `turn_usage_user_day` index).
pub async fn admission(
    conn: &mut PgConnection,
    user: Uuid,
    client_turn_id: Option<&str>,
    budget: bool,
) -> Result<Admission, sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM turns WHERE user_id = $1 AND state = 'queued') AS queued,
                $2::text IS NOT NULL
                  AND EXISTS (SELECT 1 FROM turns WHERE user_id = $1 AND client_turn_id = $2)
                  AS taken,
                (SELECT host FROM agent_sessions WHERE user_id = $1) AS pinned,
                CASE WHEN $3 THEN (SELECT COALESCE(sum(input_tokens + output_tokens
                        + cache_read_tokens + cache_creation_tokens), 0)::int8
                   FROM turn_usage WHERE user_id = $1
                    AND recorded_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
                ELSE 0 END AS tokens_today,
                (SELECT session_id FROM turns WHERE user_id = $1
                  ORDER BY queued_at DESC LIMIT 1) AS latest",
    )
    .bind(user)
    .bind(client_turn_id)
    .bind(budget)
    .fetch_one(conn)
    .await
}

pub async fn by_client_id<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    user: Uuid,
    client_turn_id: &str,
) -> Result<Option<TurnRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM turns WHERE user_id = $1 AND client_turn_id = $2"
    ))
    .bind(user)
    .bind(client_turn_id)
    .fetch_optional(conn)
    .await
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<TurnRow>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", cols!(), " FROM turns WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// A turn, only if it belongs to `user` (everything else is "not found").
pub async fn get_owned(
    pool: &PgPool,
    id: Uuid,
    user: Uuid,
) -> Result<Option<TurnRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM turns WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await
}

/// The user's most recent message turns (optionally of one session), returned oldest first.
pub async fn list_owned(
    pool: &PgPool,
    user: Uuid,
    session: Option<Uuid>,
    limit: i64,
    max_bytes: i64,
) -> Result<Vec<TurnRow>, sqlx::Error> {
    // Newest first, as long as messages and replies add up to at most `max_bytes` (the
    // newest turn always comes back, whatever its size).
    let mut rows: Vec<TurnRow> = sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM (SELECT *,
                  sum(octet_length(message) + coalesce(octet_length(reply_text), 0))
                    OVER (ORDER BY queued_at DESC, id DESC) AS running,
                  row_number() OVER (ORDER BY queued_at DESC, id DESC) AS n
             FROM turns
            WHERE user_id = $1 AND kind = 'message' AND ($2::uuid IS NULL OR session_id = $2)
            ORDER BY queued_at DESC, id DESC LIMIT $3) newest
          WHERE n = 1 OR running <= $4
          ORDER BY queued_at DESC, id DESC"
    ))
    .bind(user)
    .bind(session)
    .bind(limit)
    .bind(max_bytes)
    .fetch_all(pool)
    .await?;
    rows.reverse();
    Ok(rows)
}

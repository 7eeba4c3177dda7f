//! SQL for `terminal_views`: the live, read-only views of an agent's terminal.
//!
//! The API opens a view (a row, and a NOTIFY on [`TERMINAL_CHANNEL`] naming it), renews its lease
//! while its client is connected, and closes it when the client leaves. A worker serving the
//! view's host claims it, keeps the newest frame of the pane in the row and NOTIFYs
//! [`FRAMES_CHANNEL`] with `id:seq` after each one (the API's hub routes it like a turn event:
//! `docs/architecture.md`, "The terminal view"). Each row holds one frame at most, so a view
//! costs the database one row however long it is watched.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// API → workers: a view was opened, closed, or lost its worker (payload: the view id).
pub const TERMINAL_CHANNEL: &str = "paliadin_terminal";
/// Worker → API: a view has a new frame (payload `view_id:seq`, as [`super::EVENTS_CHANNEL`]).
pub const FRAMES_CHANNEL: &str = "paliadin_terminal_frames";
/// The largest frame stored (the table's CHECK says the same).
pub const MAX_SCREEN_BYTES: usize = 256 * 1024;
/// The longest `problem` text stored.
pub const MAX_PROBLEM_BYTES: usize = 512;

/// A view to open.
#[derive(Debug, Clone)]
pub struct NewView {
    /// Chosen by the caller, so it can subscribe to the view's frames before opening it.
    pub id: Uuid,
    pub owner: Uuid,
    pub viewer: Uuid,
    pub by_admin: bool,
    pub session_id: Uuid,
    pub host: crate::domain::HostName,
    pub session_name: String,
    /// How long the view lives without a renewal.
    pub lease_secs: i32,
}

/// Opens a view and tells the workers (one statement: the row and its NOTIFY commit together).
/// Also deletes owners' views whose lease ran out an hour ago (an API that died never closed
/// them); admins' views stay as their record.
pub async fn open(pool: &PgPool, v: &NewView) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM terminal_views
          WHERE NOT by_admin AND lease_until < now() - interval '1 hour'",
    )
    .execute(pool)
    .await?;
    sqlx::query(
        "WITH ins AS (
             INSERT INTO terminal_views
                    (id, owner_id, viewer_id, by_admin, session_id, host, session_name, lease_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))
             RETURNING id)
         SELECT pg_notify($9, id::text) IS NULL FROM ins",
    )
    .bind(v.id)
    .bind(v.owner)
    .bind(v.viewer)
    .bind(v.by_admin)
    .bind(v.session_id)
    .bind(&v.host)
    .bind(&v.session_name)
    .bind(v.lease_secs as f64)
    .bind(TERMINAL_CHANNEL)
    .fetch_one(pool)
    .await?;
    Ok(())
}

/// Whether `user` has a turn in conversation `session_id` (one probe of `turns_user_session`).
pub async fn owns_conversation(pool: &PgPool, user: Uuid, session_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM turns WHERE user_id = $1 AND session_id = $2)")
        .bind(user)
        .bind(session_id)
        .fetch_one(pool)
        .await
}

/// The owner of conversation `session_id`, if it exists (`turns_session`).
pub async fn conversation_owner(pool: &PgPool, session_id: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT user_id FROM turns WHERE session_id = $1 LIMIT 1")
        .bind(session_id)
        .fetch_optional(pool)
        .await
}

/// The host `user` is pinned to and the name of their tmux session there, once a worker has
/// named it (their first turn ran).
pub async fn pane_of(
    pool: &PgPool,
    user: Uuid,
) -> sqlx::Result<Option<(crate::domain::HostName, Option<String>)>> {
    sqlx::query_as("SELECT host, session_name FROM agent_sessions WHERE user_id = $1")
        .bind(user)
        .fetch_optional(pool)
        .await
}

/// Extends an open view's lease. A worker that has not shown itself for `stale_secs` (it died)
/// is let go of, and the workers are told again, so another one takes the view. `false`: the
/// view is gone or closed.
pub async fn renew(
    pool: &PgPool,
    id: Uuid,
    lease_secs: i32,
    stale_secs: i32,
) -> sqlx::Result<bool> {
    let row: Option<bool> = sqlx::query_scalar(
        "WITH u AS (
             UPDATE terminal_views
                SET lease_until = now() + make_interval(secs => $2),
                    worker_id = CASE WHEN worker_seen_at < now() - make_interval(secs => $3)
                                     THEN NULL ELSE worker_id END
              WHERE id = $1 AND closed_at IS NULL
              RETURNING id, worker_id IS NULL AS unserved)
         SELECT CASE WHEN unserved THEN pg_notify($4, id::text) IS NULL ELSE true END FROM u",
    )
    .bind(id)
    .bind(lease_secs as f64)
    .bind(stale_secs as f64)
    .bind(TERMINAL_CHANNEL)
    .fetch_optional(pool)
    .await?;
    Ok(row.is_some())
}

/// Closes a view: its frame is dropped at once, an owner's row is deleted, an admin's kept (with
/// `closed_at`) as the record of the view. The worker is told, so it stops at once.
pub async fn close(pool: &PgPool, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "WITH del AS (DELETE FROM terminal_views WHERE id = $1 AND NOT by_admin RETURNING id),
              upd AS (UPDATE terminal_views SET closed_at = now(), screen = NULL
                       WHERE id = $1 AND by_admin AND closed_at IS NULL RETURNING id)
         SELECT pg_notify($2, $1::text) IS NULL",
    )
    .bind(id)
    .bind(TERMINAL_CHANNEL)
    .fetch_one(pool)
    .await?;
    Ok(())
}

/// The newest frame of a view, if newer than `after`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Frame {
    pub seq: i32,
    pub screen: Option<String>,
    pub cols: i32,
    pub rows: i32,
    pub cursor_x: i32,
    pub cursor_y: i32,
    pub problem: Option<String>,
}

/// The view's frame when its `seq` is past `after`.
pub async fn frame_after(pool: &PgPool, id: Uuid, after: i32) -> sqlx::Result<Option<Frame>> {
    sqlx::query_as(
        "SELECT seq, screen, cols, rows, cursor_x, cursor_y, problem
           FROM terminal_views WHERE id = $1 AND seq > $2 AND closed_at IS NULL",
    )
    .bind(id)
    .bind(after)
    .fetch_optional(pool)
    .await
}

/// A view a worker holds.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub host: crate::domain::HostName,
    pub session_name: String,
}

/// Claims the open views of `hosts` nobody serves (`only`: just that one), at most `max`.
pub async fn claim(
    pool: &PgPool,
    worker: &str,
    hosts: &[String],
    only: Option<Uuid>,
    max: i64,
) -> sqlx::Result<Vec<Claimed>> {
    sqlx::query_as(
        "UPDATE terminal_views SET worker_id = $1, worker_seen_at = now()
          WHERE id IN (SELECT id FROM terminal_views
                        WHERE closed_at IS NULL AND worker_id IS NULL AND lease_until > now()
                          AND host = ANY($2) AND ($3::uuid IS NULL OR id = $3)
                        ORDER BY opened_at LIMIT $4
                          FOR UPDATE SKIP LOCKED)
         RETURNING id, owner_id, host, session_name",
    )
    .bind(worker)
    .bind(hosts)
    .bind(only)
    .bind(max)
    .fetch_all(pool)
    .await
}

/// What a worker shows: a frame of the pane, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown<'a> {
    Screen {
        text: &'a str,
        cols: i32,
        rows: i32,
        cursor_x: i32,
        cursor_y: i32,
    },
    Problem(&'a str),
}

/// Stores a frame (with its NOTIFY) while `worker` still holds the view and its lease runs;
/// `None`: the view is closed, expired or someone else's now — stop.
pub async fn publish(
    pool: &PgPool,
    id: Uuid,
    worker: &str,
    shown: &Shown<'_>,
) -> sqlx::Result<Option<i32>> {
    let (screen, problem, cols, rows, cx, cy) = match *shown {
        Shown::Screen {
            text,
            cols,
            rows,
            cursor_x,
            cursor_y,
        } => (Some(text), None, cols, rows, cursor_x, cursor_y),
        Shown::Problem(p) => (None, Some(p), 0, 0, 0, 0),
    };
    sqlx::query_scalar(
        "WITH u AS (
             UPDATE terminal_views
                SET seq = seq + 1, screen = $3, problem = $4, cols = $5, rows = $6,
                    cursor_x = $7, cursor_y = $8, worker_seen_at = now()
              WHERE id = $1 AND worker_id = $2 AND closed_at IS NULL AND lease_until > now()
              RETURNING id, seq)
         SELECT u.seq FROM u
          CROSS JOIN LATERAL (SELECT pg_notify($9, u.id::text || ':' || u.seq)) AS n",
    )
    .bind(id)
    .bind(worker)
    .bind(screen)
    .bind(problem)
    .bind(cols)
    .bind(rows)
    .bind(cx)
    .bind(cy)
    .bind(FRAMES_CHANNEL)
    .fetch_optional(pool)
    .await
}

/// The worker is still there and nothing changed on screen; `false`: stop (closed, expired, or
/// taken by another worker).
pub async fn beat(pool: &PgPool, id: Uuid, worker: &str) -> sqlx::Result<bool> {
    let row: Option<Uuid> = sqlx::query_scalar(
        "UPDATE terminal_views SET worker_seen_at = now()
          WHERE id = $1 AND worker_id = $2 AND closed_at IS NULL AND lease_until > now()
          RETURNING id",
    )
    .bind(id)
    .bind(worker)
    .fetch_optional(pool)
    .await?;
    Ok(row.is_some())
}

/// One view, as recorded (for the admin's record and the tests).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Record {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub viewer_id: Uuid,
    pub by_admin: bool,
    pub session_id: Uuid,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// The views of `owner`'s terminal that admins opened, newest first (at most `limit`).
pub async fn admin_views(pool: &PgPool, owner: Uuid, limit: i64) -> sqlx::Result<Vec<Record>> {
    sqlx::query_as(
        "SELECT id, owner_id, viewer_id, by_admin, session_id, opened_at, closed_at
           FROM terminal_views WHERE owner_id = $1 AND by_admin
          ORDER BY opened_at DESC LIMIT $2",
    )
    .bind(owner)
    .bind(limit)
    .fetch_all(pool)
    .await
}

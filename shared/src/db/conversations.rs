//! SQL of an owner's conversations: their message turns grouped by `session_id`, newest
//! activity first, paged by a `(last_activity, session_id)` cursor, optionally only those whose
//! messages or replies contain a search text.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// One conversation as the list shows it.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct ConversationRow {
    pub session_id: Uuid,
    pub last_activity: DateTime<Utc>,
    pub turns: i64,
    /// The first message (at most 200 characters; the API shortens it further for the title).
    pub first_message: String,
    /// The newest turn's state.
    pub last_state: crate::domain::TurnState,
    /// A turn is queued or running.
    pub active: bool,
    /// A turn is running.
    pub running: bool,
    /// A running turn waits for its person (an undecided permission request).
    pub waiting: bool,
    /// The host of the newest turn: where the conversation's agent window is.
    pub host: String,
    /// Whether the conversation's agent window on `host` is live, as the host last listed its
    /// agents (`live_agents`); a turn that ended after that listing counts as live (its agent
    /// answered it). NULL: the host never listed them (unknown, e.g. behind a host agent).
    pub agent_live: Option<bool>,
}

/// Where a page starts: conversations strictly older than this one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    pub last_activity: DateTime<Utc>,
    pub session_id: Uuid,
}

/// `user`'s conversations, newest activity first, after `before`, at most `limit`; with
/// `search`, only those where a message or a reply contains it (case-insensitive).
pub async fn list(
    pool: &PgPool,
    user: Uuid,
    before: Option<Cursor>,
    search: Option<&str>,
    limit: i64,
) -> Result<Vec<ConversationRow>, sqlx::Error> {
    let pattern = search.map(like_pattern);
    sqlx::query_as(
        "WITH conv AS (
             SELECT t.session_id,
                    max(GREATEST(t.queued_at, COALESCE(t.finished_at, t.queued_at))) AS last_activity,
                    count(*) AS turns,
                    bool_or(t.state IN ('queued', 'running')) AS active,
                    bool_or(t.state = 'running') AS running
               FROM turns t
              WHERE t.user_id = $1 AND t.kind = 'message'
                AND ($4::text IS NULL OR t.session_id IN (
                     SELECT m.session_id FROM turns m
                      WHERE m.user_id = $1 AND m.kind = 'message'
                        AND (m.message ILIKE $4 ESCAPE '\\' OR m.reply_text ILIKE $4 ESCAPE '\\')))
              GROUP BY t.session_id
         )
         SELECT c.session_id, c.last_activity, c.turns, c.active, c.running,
                (SELECT left(f.message, 200) FROM turns f
                  WHERE f.user_id = $1 AND f.session_id = c.session_id AND f.kind = 'message'
                  ORDER BY f.queued_at, f.id LIMIT 1) AS first_message,
                l.state AS last_state, l.host,
                (SELECT CASE WHEN h.agents_listed_at IS NULL THEN NULL
                             ELSE COALESCE(l.finished_at > h.agents_listed_at, false) OR EXISTS (
                                  SELECT 1 FROM live_agents a
                                    JOIN agent_sessions s ON s.session_name = a.tmux_session
                                                         AND s.host = a.host
                                   WHERE s.user_id = $1 AND a.host = l.host
                                     AND a.session_id = c.session_id) END
                   FROM hosts h WHERE h.name = l.host) AS agent_live,
                EXISTS (SELECT 1 FROM turns w JOIN turn_permissions p ON p.turn_id = w.id
                         WHERE w.user_id = $1 AND w.session_id = c.session_id
                           AND w.state = 'running' AND p.decision IS NULL) AS waiting
           FROM conv c
          CROSS JOIN LATERAL (
                SELECT n.state, n.host, n.finished_at FROM turns n
                 WHERE n.user_id = $1 AND n.session_id = c.session_id AND n.kind = 'message'
                 ORDER BY n.queued_at DESC, n.id DESC LIMIT 1) l
          WHERE $2::timestamptz IS NULL OR (c.last_activity, c.session_id) < ($2, $3)
          ORDER BY c.last_activity DESC, c.session_id DESC
          LIMIT $5",
    )
    .bind(user)
    .bind(before.map(|c| c.last_activity))
    .bind(before.map(|c| c.session_id))
    .bind(pattern)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// `%text%` for ILIKE, with `%`, `_` and `\` taken literally.
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Whether a message turn of `session_id` queued before `before` reached an agent (was
/// delivered): an agent started for the conversation now must continue it, not start afresh.
/// One probe of the `(user_id, session_id, queued_at)` index.
pub async fn continues(
    pool: &PgPool,
    user: Uuid,
    session_id: Uuid,
    before: DateTime<Utc>,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (
             SELECT 1 FROM turns
              WHERE user_id = $1 AND session_id = $2 AND queued_at < $3
                AND kind = 'message' AND delivered_at IS NOT NULL)",
    )
    .bind(user)
    .bind(session_id)
    .bind(before)
    .fetch_one(pool)
    .await
}

/// The conversation of `user`'s latest turn, if any: where a turn posted without a
/// `session_id` goes. One probe of `turns_user_latest`.
pub async fn latest(pool: &PgPool, user: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT session_id FROM turns WHERE user_id = $1 ORDER BY queued_at DESC LIMIT 1",
    )
    .bind(user)
    .fetch_optional(pool)
    .await
}

/// What forgetting a conversation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgot {
    /// Its turns are gone, with their events, permission requests and push notices (the
    /// foreign keys cascade) and its stored transcript; the hosts that ran it are asked to
    /// remove the transcript's file and stop its agent (`transcripts::forget_in`). The number
    /// of turns.
    Deleted(u64),
    /// A turn of it is queued or running: nothing was deleted.
    Busy,
    /// `user` has no turn in it (or it is someone else's): nothing to delete.
    Unknown,
}

/// Deletes `user`'s conversation `session_id` (`DELETE /api/paliadin/conversations/{id}`), in
/// one transaction under the user-row lock the enqueue takes, so no turn is enqueued into it
/// meanwhile; refused while a turn of it is queued or running (the worker holds it).
pub async fn forget(pool: &PgPool, user: Uuid, session_id: Uuid) -> sqlx::Result<Forgot> {
    let mut tx = pool.begin().await?;
    super::enqueue::lock_user(&mut tx, user).await?;
    let (turns, busy): (i64, bool) = sqlx::query_as(
        "SELECT count(*), coalesce(bool_or(state IN ('queued', 'running')), false)
           FROM turns WHERE user_id = $1 AND session_id = $2",
    )
    .bind(user)
    .bind(session_id)
    .fetch_one(&mut *tx)
    .await?;
    let outcome = if turns == 0 {
        Forgot::Unknown
    } else if busy {
        Forgot::Busy
    } else {
        // Before the turns go: they name the hosts that hold the transcript's file.
        super::transcripts::forget_in(&mut tx, user, session_id).await?;
        let done = sqlx::query("DELETE FROM turns WHERE user_id = $1 AND session_id = $2")
            .bind(user)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        Forgot::Deleted(done.rows_affected())
    };
    tx.commit().await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn search_text_is_literal() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(like_pattern(""), "%%");
    }
}

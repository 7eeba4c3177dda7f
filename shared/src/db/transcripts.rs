//! SQL of the stored agent transcripts (`transcripts`, `transcript_chunks`,
//! `transcript_removals`): each conversation's transcript file as appended chunks, copied by the
//! worker after each turn and written back to a host that lacks it before a resume
//! (`docs/operations.md`, "Transcripts").
//!
//! An append names the offset it continues from and is refused unless that is exactly what is
//! stored: two workers copying the same increment (one slow after its turn, the next turn's
//! already done) store it once, and the chunks always tile `[0, bytes)` of the file.

use sqlx::PgPool;
use uuid::Uuid;

/// What is stored of one conversation's transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Stored {
    /// Bytes of the file's prefix held.
    pub bytes: i64,
    /// The file outgrew the limit: nothing more is copied.
    pub capped: bool,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored; the new total.
    Stored(i64),
    /// The offset was not the stored length (another copy got there first): nothing stored.
    Stale,
    /// Past the limit: nothing stored and the transcript is marked capped.
    Capped,
}

/// What is stored of `user`'s conversation `session_id` (None: nothing yet, or another
/// user's).
pub async fn stored(pool: &PgPool, user: Uuid, session_id: Uuid) -> sqlx::Result<Option<Stored>> {
    sqlx::query_as("SELECT bytes, capped FROM transcripts WHERE session_id = $1 AND user_id = $2")
        .bind(session_id)
        .bind(user)
        .fetch_optional(pool)
        .await
}

/// Appends `data`, which starts at byte `offset` of `user`'s conversation's transcript, unless
/// the total would pass `max_bytes` (then the transcript is marked capped).
///
/// The common case — the conversation's row exists, is `user`'s, holds exactly `offset` bytes
/// and stays under the limit — is one statement: the row's update (its row lock; under READ
/// COMMITTED a concurrent append's update is waited for and the condition checked again on
/// the row it left) and the chunk's insert. Anything else goes the long way: one transaction,
/// the row created if missing and locked, then the same checks one by one.
pub async fn append(
    pool: &PgPool,
    user: Uuid,
    session_id: Uuid,
    offset: i64,
    data: &[u8],
    max_bytes: i64,
) -> sqlx::Result<Appended> {
    let total = offset + data.len() as i64;
    let appended: Option<i64> = sqlx::query_scalar(
        "WITH up AS (
             UPDATE transcripts SET bytes = $4, chunks = chunks + 1, updated_at = now()
              WHERE session_id = $1 AND user_id = $2 AND bytes = $3 AND NOT capped AND $4 <= $5
          RETURNING chunks - 1 AS seq
         ), ins AS (
             INSERT INTO transcript_chunks (session_id, seq, start_at, data)
             SELECT $1, seq, $3, $6 FROM up
         )
         SELECT $4 FROM up",
    )
    .bind(session_id)
    .bind(user)
    .bind(offset)
    .bind(total)
    .bind(max_bytes)
    .bind(data)
    .fetch_optional(pool)
    .await?;
    if appended.is_some() {
        return Ok(Appended::Stored(total));
    }
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO transcripts (session_id, user_id) VALUES ($1, $2)
         ON CONFLICT (session_id) DO NOTHING",
    )
    .bind(session_id)
    .bind(user)
    .execute(&mut *tx)
    .await?;
    let (owner, bytes, chunks, capped): (Uuid, i64, i32, bool) = sqlx::query_as(
        "SELECT user_id, bytes, chunks, capped FROM transcripts WHERE session_id = $1 FOR UPDATE",
    )
    .bind(session_id)
    .fetch_one(&mut *tx)
    .await?;
    if owner != user || bytes != offset {
        return Ok(Appended::Stale);
    }
    if capped {
        return Ok(Appended::Capped);
    }
    let total = bytes + data.len() as i64;
    if total > max_bytes {
        sqlx::query(
            "UPDATE transcripts SET capped = true, updated_at = now() WHERE session_id = $1",
        )
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Appended::Capped);
    }
    sqlx::query(
        "INSERT INTO transcript_chunks (session_id, seq, start_at, data) VALUES ($1, $2, $3, $4)",
    )
    .bind(session_id)
    .bind(chunks)
    .bind(bytes)
    .bind(data)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE transcripts SET bytes = $2, chunks = chunks + 1, updated_at = now()
          WHERE session_id = $1",
    )
    .bind(session_id)
    .bind(total)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Appended::Stored(total))
}

/// The stored chunks of `user`'s conversation from chunk `from_seq` on, at most `limit`, as
/// `(seq, start_at, data)` in order (a restore reads them a few at a time).
pub async fn chunks(
    pool: &PgPool,
    user: Uuid,
    session_id: Uuid,
    from_seq: i32,
    limit: i64,
) -> sqlx::Result<Vec<(i32, i64, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT c.seq, c.start_at, c.data FROM transcript_chunks c
           JOIN transcripts t ON t.session_id = c.session_id
          WHERE c.session_id = $1 AND t.user_id = $2 AND c.seq >= $3
          ORDER BY c.seq LIMIT $4",
    )
    .bind(session_id)
    .bind(user)
    .bind(from_seq)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Inside the forget transaction of `conversations::forget`: drops the stored transcript and
/// asks each host that ran a turn of the conversation to remove its file (and stop the agent
/// holding it). Returns how many hosts were asked.
pub async fn forget_in(
    tx: &mut sqlx::PgConnection,
    user: Uuid,
    session_id: Uuid,
) -> sqlx::Result<u64> {
    let asked = sqlx::query(
        "INSERT INTO transcript_removals (session_id, user_id, host)
         SELECT DISTINCT $2::uuid, $1::uuid, host FROM turns
          WHERE user_id = $1 AND session_id = $2 AND claimed_at IS NOT NULL
         ON CONFLICT (session_id, host) DO NOTHING",
    )
    .bind(user)
    .bind(session_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM transcripts WHERE session_id = $1 AND user_id = $2")
        .bind(session_id)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    Ok(asked.rows_affected())
}

/// A transcript file to remove from a host.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Removal {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub host: crate::domain::HostName,
}

/// The oldest removals asked of `hosts`, at most `limit`.
pub async fn removals(pool: &PgPool, hosts: &[String], limit: i64) -> sqlx::Result<Vec<Removal>> {
    sqlx::query_as(
        "SELECT session_id, user_id, host FROM transcript_removals
          WHERE host = ANY($1) ORDER BY requested_at LIMIT $2",
    )
    .bind(hosts)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The session `user`'s agents have on `host` (None: none recorded there).
pub async fn session_on(pool: &PgPool, user: Uuid, host: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT session_name FROM agent_sessions WHERE user_id = $1 AND host = $2")
        .bind(user)
        .bind(host)
        .fetch_optional(pool)
        .await
        .map(Option::flatten)
}

/// The removal is done (or cannot ever be).
pub async fn removed(pool: &PgPool, r: &Removal) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM transcript_removals WHERE session_id = $1 AND host = $2")
        .bind(r.session_id)
        .bind(&r.host)
        .execute(pool)
        .await
        .map(|_| ())
}

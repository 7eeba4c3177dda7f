//! `uploads`: files an owner hands the agent from the page (`migrations/…_uploads.sql`,
//! docs/web.md "Files and images"). Stored pending by the API, bound to a turn in its enqueue
//! transaction ([`bind`]), read by the worker that delivers the turn ([`of_turn`]), shown in the
//! history ([`meta_of_turns`]) and served back to their owner only ([`owned`]). The files a
//! host wrote go when their rows go: [`take_purges`] hands them to that host's workers.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Pending uploads older than this are dropped when their owner uploads again: no turn took
/// them.
pub const PENDING_HOURS: i32 = 24;

/// An upload as listed (no bytes).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct UploadMeta {
    pub id: Uuid,
    pub name: String,
    pub content_type: String,
    pub size: i32,
}

/// An upload with its bytes.
#[derive(Clone, sqlx::FromRow)]
pub struct UploadFile {
    pub id: Uuid,
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for UploadFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadFile")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// What [`insert`] did.
#[derive(Debug)]
pub enum Inserted {
    Stored(UploadMeta),
    /// The owner already has `max_pending` uploads no turn took: nothing was stored.
    TooManyPending,
}

/// Stores a pending upload of `user` (under the user row lock, so the cap holds under
/// concurrency), after dropping the user's pending uploads older than [`PENDING_HOURS`].
pub async fn insert(
    pool: &PgPool,
    user: Uuid,
    name: &str,
    content_type: &str,
    data: &[u8],
    max_pending: i64,
) -> Result<Inserted, sqlx::Error> {
    let mut tx = pool.begin().await?;
    super::enqueue::lock_user(&mut tx, user).await?;
    let (pending,): (i64,) = sqlx::query_as(
        "WITH gone AS (
             DELETE FROM uploads WHERE user_id = $1 AND turn_id IS NULL
                AND created_at < now() - make_interval(hours => $2)
         )
         SELECT count(*) FROM uploads WHERE user_id = $1 AND turn_id IS NULL
            AND created_at >= now() - make_interval(hours => $2)",
    )
    .bind(user)
    .bind(PENDING_HOURS)
    .fetch_one(&mut *tx)
    .await?;
    if pending >= max_pending {
        return Ok(Inserted::TooManyPending);
    }
    let size = i32::try_from(data.len()).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let meta: UploadMeta = sqlx::query_as(
        "INSERT INTO uploads (id, user_id, name, content_type, size, data)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, name, content_type, size",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(name)
    .bind(content_type)
    .bind(size)
    .bind(data)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Inserted::Stored(meta))
}

/// Binds `ids` (in this order) to `turn`, in the enqueue's transaction. `false` when any of
/// them is not a pending upload of `user` (another owner's, unknown, or already bound): the
/// caller rolls back, and nothing is stored.
pub async fn bind(
    conn: &mut PgConnection,
    user: Uuid,
    turn: Uuid,
    ids: &[Uuid],
) -> Result<bool, sqlx::Error> {
    if ids.is_empty() {
        return Ok(true);
    }
    let done = sqlx::query(
        "UPDATE uploads SET turn_id = $3, position = (u.n - 1)::smallint
           FROM unnest($1::uuid[]) WITH ORDINALITY AS u (id, n)
          WHERE uploads.id = u.id AND uploads.user_id = $2 AND uploads.turn_id IS NULL",
    )
    .bind(ids)
    .bind(user)
    .bind(turn)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == ids.len() as u64)
}

/// A turn's uploads with their bytes, in order (the worker writes them for the agent).
pub async fn of_turn(pool: &PgPool, turn: Uuid) -> Result<Vec<UploadFile>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, content_type, data FROM uploads WHERE turn_id = $1 ORDER BY position",
    )
    .bind(turn)
    .fetch_all(pool)
    .await
}

/// Records that `host` wrote `turn`'s uploads into its agent's working directory: when the
/// rows go, that host's files go too ([`take_purges`]).
pub async fn mark_written(pool: &PgPool, turn: Uuid, host: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE uploads SET written_host = $2 WHERE turn_id = $1")
        .bind(turn)
        .bind(host)
        .execute(pool)
        .await?;
    Ok(())
}

/// The uploads of `user`'s turns `turns`, with their turn id, in order (the history).
pub async fn meta_of_turns(
    pool: &PgPool,
    user: Uuid,
    turns: &[Uuid],
) -> Result<Vec<(Uuid, UploadMeta)>, sqlx::Error> {
    if turns.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(Uuid, Uuid, String, String, i32)> = sqlx::query_as(
        "SELECT turn_id, id, name, content_type, size FROM uploads
          WHERE user_id = $1 AND turn_id = ANY($2) ORDER BY turn_id, position",
    )
    .bind(user)
    .bind(turns)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(turn, id, name, content_type, size)| {
            (
                turn,
                UploadMeta {
                    id,
                    name,
                    content_type,
                    size,
                },
            )
        })
        .collect())
}

/// One upload of `user`'s with its bytes; `None` for anyone else's or an unknown id.
pub async fn owned(pool: &PgPool, user: Uuid, id: Uuid) -> Result<Option<UploadFile>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, content_type, data FROM uploads WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await
}

/// A turn whose uploads' files must leave a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Purge {
    pub turn_id: Uuid,
    pub user_id: Uuid,
}

/// Up to `limit` purges queued for `host` (oldest first). They stay queued until [`purged`].
pub async fn take_purges(pool: &PgPool, host: &str, limit: i64) -> Result<Vec<Purge>, sqlx::Error> {
    sqlx::query_as(
        "SELECT turn_id, user_id FROM upload_purges WHERE host = $1 ORDER BY queued_at LIMIT $2",
    )
    .bind(host)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// `turn`'s files left `host`.
pub async fn purged(pool: &PgPool, host: &str, turn: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM upload_purges WHERE host = $1 AND turn_id = $2")
        .bind(host)
        .bind(turn)
        .execute(pool)
        .await?;
    Ok(())
}

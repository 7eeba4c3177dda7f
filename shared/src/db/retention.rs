//! Retention of old turns (`PALIADIN_TURN_RETENTION_DAYS`, default off): deletes finished turns
//! older than N days with their events and permissions (`ON DELETE CASCADE`), in small batches
//! each committed on its own, by one process at a time (a session advisory lock).

use super::DbError;
use sqlx::PgPool;

/// Key of the advisory lock that keeps retention to one process at a time.
pub const RETENTION_LOCK: i64 = 0x7061_6c69_7265_746e; // "palirotn"

/// Turns deleted per statement: short transactions, no long locks.
pub const BATCH: i64 = 500;

/// Deletes turns finished more than `days` days ago, `batch` per statement. `Ok(None)` when
/// another process holds the lock (it is doing the work); else the number deleted.
pub async fn run_once(pool: &PgPool, days: u32, batch: i64) -> Result<Option<u64>, DbError> {
    let mut lock = pool.acquire().await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(RETENTION_LOCK)
        .fetch_one(&mut *lock)
        .await?;
    if !got {
        return Ok(None);
    }
    let result = delete_batches(pool, days, batch).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(RETENTION_LOCK)
        .execute(&mut *lock)
        .await?;
    result.map(Some)
}

async fn delete_batches(pool: &PgPool, days: u32, batch: i64) -> Result<u64, DbError> {
    let mut total = 0;
    loop {
        // Each statement is its own transaction (autocommit on the pool).
        let n = sqlx::query(
            "DELETE FROM turns WHERE id IN (
                 SELECT id FROM turns
                  WHERE finished_at IS NOT NULL
                    AND finished_at < now() - make_interval(days => $1)
                  LIMIT $2
                  FOR UPDATE SKIP LOCKED)",
        )
        .bind(days as i32)
        .bind(batch)
        .execute(pool)
        .await?
        .rows_affected();
        total += n;
        if n < batch as u64 {
            return Ok(total);
        }
    }
}

//! Database access: connecting, migrating, and all SQL (one module per table family).

mod append;
pub mod cancel;
pub mod conversations;
pub mod enqueue;
pub mod events;
pub mod failover;
pub mod fenced;
pub mod fleet;
pub mod live_agents;
pub mod permissions;
pub mod push;
pub mod retention;
pub mod schema;
pub mod sessions;
pub mod stats;
pub mod terminal;
pub mod transcripts;
pub mod turns;
pub mod uploads;
pub mod usage;
pub mod users;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};
use std::str::FromStr;
use std::time::Duration;

/// The channel on which a `turn_id:seq` notification follows every committed event.
pub const EVENTS_CHANNEL: &str = "paliadin_events";
/// The channel on which the API announces new work for a host (payload: host name).
pub const WORK_CHANNEL: &str = "paliadin_work";
/// The channel on which the API asks workers to cancel a running turn (payload: turn id).
pub const CANCEL_CHANNEL: &str = "paliadin_cancel";
/// The channel on which a permission decision wakes the worker holding the turn (payload:
/// turn id).
pub const PERMISSION_CHANNEL: &str = "paliadin_permission";

/// Key of the advisory lock that serialises concurrent `migrate` runs.
const MIGRATE_LOCK: i64 = 0x7061_6c69_6164_696e; // "paliadin"

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("queue error: {0}")]
    Queue(#[from] pgmq::errors::PgmqError),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("an invalid value in the database: {0}")]
    Invalid(String),
    #[error("the database is not migrated ({0}); run `paliadin-api migrate` first")]
    NotMigrated(String),
    #[error("{0}")]
    Schema(String),
}

/// Opens a pool. `max` bounds the connections this process may hold.
pub async fn connect(url: &str, max: u32) -> Result<PgPool, DbError> {
    let opts = PgConnectOptions::from_str(url)?.application_name("paliadin");
    Ok(PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await?)
}

/// Installs pgmq (SQL-only, embedded, versioned) and runs the sqlx migrations. Idempotent and
/// safe when several processes run it at once: an advisory lock serialises them.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    let mut lock_conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut *lock_conn)
        .await?;
    let result = async {
        pgmq::install::install_sql_from_embedded(pool).await?;
        MIGRATOR.run(pool).await?;
        schema::record_compat(pool).await?;
        Ok::<_, DbError>(())
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut *lock_conn)
        .await?;
    result
}

/// Fails unless pgmq and every migration of this binary are in place and the database has no
/// migration this binary does not know, except ones marked compatible ([`schema`]).
pub async fn ensure_migrated(pool: &PgPool) -> Result<(), DbError> {
    let status = schema::status(pool).await?;
    status.verdict()?;
    if !status.compatible.is_empty() {
        tracing::info!(
            database = status.database,
            binary = status.binary,
            compatible = ?status.compatible,
            "the database is newer than this binary; its newer migrations are marked compatible"
        );
    }
    Ok(())
}

/// The migration versions this binary carries, ascending (the newest is the schema it needs).
pub fn migration_versions() -> Vec<i64> {
    MIGRATOR.iter().map(|m| m.version).collect()
}

/// Cheap readiness probe: the database answers and is migrated.
pub async fn ready(pool: &PgPool) -> Result<(), DbError> {
    let mut conn = pool.acquire().await?;
    conn.ping().await?;
    drop(conn);
    ensure_migrated(pool).await
}

//! The schema version check every process runs on start: the database must carry every
//! migration this binary was built with, and nothing newer unless marked compatible.

use super::{DbError, MIGRATOR};
use sqlx::PgPool;

/// The line a migration file carries when binaries older than it may still run against the
/// schema it produces (expand-only). `migrate` records such migrations in `schema_compat`.
pub const COMPAT_MARKER: &str = "-- paliadin: compatible";

/// The newest migration this binary was built with: the oldest schema it can run against.
pub fn binary_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The versions of this binary's migrations that carry [`COMPAT_MARKER`].
pub fn compatible_versions() -> Vec<i64> {
    MIGRATOR
        .iter()
        .filter(|m| m.sql.as_str().lines().any(|l| l.trim() == COMPAT_MARKER))
        .map(|m| m.version)
        .collect()
}

/// Records this binary's compatible migrations (called by `migrate` after running them).
pub async fn record_compat(pool: &PgPool) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO schema_compat (version) SELECT unnest($1::bigint[]) \
         ON CONFLICT (version) DO NOTHING",
    )
    .bind(compatible_versions())
    .execute(pool)
    .await?;
    Ok(())
}

/// What the database holds compared with this binary.
#[derive(Debug, Clone)]
pub struct Status {
    /// The newest migration applied to the database (0 when none).
    pub database: i64,
    /// This binary's newest migration.
    pub binary: i64,
    /// Migrations this binary needs that the database lacks.
    pub missing: Vec<i64>,
    /// Applied migrations this binary does not know and that are not marked compatible.
    pub unknown: Vec<i64>,
    /// Applied migrations this binary does not know that are marked compatible.
    pub compatible: Vec<i64>,
}

impl Status {
    /// `Err` with the message for ops when this binary must not run against the database.
    pub fn verdict(&self) -> Result<(), DbError> {
        let (db, bin) = (self.database, self.binary);
        if !self.missing.is_empty() {
            return Err(DbError::Schema(format!(
                "the database schema is at migration {db} but this binary needs migration \
                 {bin} (missing {:?}); run `paliadin-api migrate` with this release",
                self.missing
            )));
        }
        if !self.unknown.is_empty() {
            return Err(DbError::Schema(format!(
                "the database schema is at migration {db}, newer than this binary (built with \
                 migration {bin}); migrations {:?} are not marked compatible: upgrade this binary",
                self.unknown
            )));
        }
        Ok(())
    }
}

/// Reads the applied migrations and the compatibility marks.
pub async fn status(pool: &PgPool) -> Result<Status, DbError> {
    let pgmq: Option<String> = sqlx::query_scalar("SELECT to_regclass('pgmq.meta')::text")
        .fetch_one(pool)
        .await?;
    if pgmq.is_none() {
        return Err(DbError::NotMigrated("pgmq is not installed".into()));
    }
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(pool)
        .await?;
    let applied: Vec<i64> = match table {
        None => Vec::new(),
        Some(_) => {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(pool)
                .await?
        }
    };
    let marks: Option<String> = sqlx::query_scalar("SELECT to_regclass('schema_compat')::text")
        .fetch_one(pool)
        .await?;
    let marked: Vec<i64> = match marks {
        None => Vec::new(),
        Some(_) => {
            sqlx::query_scalar("SELECT version FROM schema_compat")
                .fetch_all(pool)
                .await?
        }
    };
    let known: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    let missing = known
        .iter()
        .copied()
        .filter(|v| !applied.contains(v))
        .collect();
    let (compatible, unknown) = applied
        .iter()
        .copied()
        .filter(|v| !known.contains(v))
        .partition(|v| marked.contains(v));
    Ok(Status {
        database: applied.iter().copied().max().unwrap_or(0),
        binary: binary_version(),
        missing,
        unknown,
        compatible,
    })
}

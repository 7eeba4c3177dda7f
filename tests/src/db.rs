//! A fresh, migrated database per test, cloned from a template that is migrated once per
//! migration set (serialised across test processes by an advisory lock).

use sqlx::{Connection, Executor, PgConnection, PgPool};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn admin_url() -> String {
    std::env::var("PALIADIN_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `name` on the admin server.
pub fn url_for(name: &str) -> String {
    let admin = admin_url();
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b.to_owned(), format!("?{q}")),
        None => (admin.clone(), String::new()),
    };
    let cut = base.rfind('/').expect("admin URL has a database path");
    format!("{}/{name}{query}", &base[..cut])
}

fn migrations_fingerprint() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("migrations dir")
        .map(|e| {
            let e = e.expect("entry");
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            format!("{}:{len}", e.file_name().to_string_lossy())
        })
        .collect();
    names.sort();
    let mut h: u64 = 1469598103934665603;
    for b in names.join(",").bytes() {
        h = (h ^ b as u64).wrapping_mul(1099511628211);
    }
    format!("{h:016x}")
}

/// A database for one test.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    /// A fresh database with pgmq and all migrations applied.
    pub async fn new() -> TestDb {
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("connect to the test PostgreSQL admin URL");
        admin
            .execute("SELECT pg_advisory_lock(7467001)")
            .await
            .expect("lock");
        let template = format!("paliadin_tpl_{}", migrations_fingerprint());
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&template)
                .fetch_one(&mut admin)
                .await
                .expect("query");
        if !exists {
            let building = format!("{template}_building");
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {building}"
                )))
                .await
                .expect("drop");
            admin
                .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
                .await
                .expect("create template");
            let pool = paliadin_shared::db::connect(&url_for(&building), 4)
                .await
                .expect("connect template");
            paliadin_shared::db::migrate(&pool)
                .await
                .expect("migrate template");
            pool.close().await;
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "ALTER DATABASE {building} RENAME TO {template}"
                )))
                .await
                .expect("rename template");
        }
        drop_stale(&mut admin).await;
        let name = fresh_name();
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {name} TEMPLATE {template}"
            )))
            .await
            .expect("create test database");
        admin
            .execute("SELECT pg_advisory_unlock(7467001)")
            .await
            .expect("unlock");
        TestDb::open(name).await
    }

    /// An empty database (no pgmq, no migrations), for migration tests.
    pub async fn empty() -> TestDb {
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("connect admin");
        let name = fresh_name();
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create");
        TestDb::open(name).await
    }

    /// Connects to the freshly created database `name`.
    async fn open(name: String) -> TestDb {
        let url = url_for(&name);
        let pool = paliadin_shared::db::connect(&url, 20)
            .await
            .expect("connect test database");
        TestDb { name, url, pool }
    }
}

/// Seconds since the Unix epoch (test database names carry their creation time).
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A new test database name, `paliadin_t_<secs>_<random>` (see [`drop_stale`]).
fn fresh_name() -> String {
    format!(
        "paliadin_t_{}_{}",
        now_secs(),
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// Drops test databases older than two hours (left by earlier runs).
async fn drop_stale(admin: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'paliadin\\_t\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    let now = now_secs();
    for n in names {
        let ts: u64 = n
            .split('_')
            .nth(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(now);
        if now.saturating_sub(ts) > 7200 {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {n} WITH (FORCE)"
                )))
                .await;
        }
    }
}

/// Appends 500 `content` events of 64 KiB each (32 MB) to `turn`, straight into the table, as
/// an agent that streamed a huge reply would have: for the replay-size tests.
pub async fn seed_big_turn(pool: &sqlx::PgPool, turn: uuid::Uuid) {
    sqlx::query(
        "WITH t AS (UPDATE turns SET last_seq = last_seq + 500 WHERE id = $1
                    RETURNING last_seq - 500 AS base)
         INSERT INTO turn_events (turn_id, seq, kind, data)
         SELECT $1, t.base + g, 'content', jsonb_build_object('delta', repeat('x', 65536))
           FROM t, generate_series(1, 500) g",
    )
    .bind(turn)
    .execute(pool)
    .await
    .expect("seed the turn's events");
}

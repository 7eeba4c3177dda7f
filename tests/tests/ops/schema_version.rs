//! The schema version check on start: `paliadin-api serve`, `paliadin-worker` and both doctors
//! refuse a database that lacks a migration this binary needs, refuse a database newer than the
//! binary (an applied migration it does not know), and run when every such migration is marked
//! compatible in `schema_compat`. "Newer" is simulated with a fake applied migration row.

use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::ApiProc;
use paliadin_e2e::procs::{self, TmuxRig};
use paliadin_shared::db::schema;
use std::process::{Command, Stdio};

/// A migration version no release has: the "newer" schema.
const FUTURE: i64 = 20991231000001;

/// Runs `bin args…` against `db` with a clean environment; returns (exit code, stdout+stderr).
fn run(bin: &str, args: &[&str], db: &TestDb) -> (i32, String) {
    let mut cmd = Command::new(procs::binary(bin));
    for (k, _) in std::env::vars() {
        if k.starts_with("PALIADIN_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    let spool = std::env::temp_dir().join(format!("paliadin-schema-{}", uuid::Uuid::new_v4()));
    let out = cmd
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("PALIADIN_BIND", "127.0.0.1:0")
        .env("PALIADIN_SPOOL_DIR", &spool)
        .env("PALIADIN_AGENT_CMD", procs::binary("paliadin-demo-agent"))
        .env("PALIADIN_TMUX_SOCKET", "paliadin-schema-none")
        .stdin(Stdio::null())
        .output()
        .expect("run binary");
    let _ = std::fs::remove_dir_all(&spool);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

async fn add_future_migration(db: &TestDb) {
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'future', true, '\\x00'::bytea, 1)",
    )
    .bind(FUTURE)
    .execute(&db.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_newer_schema_is_refused_by_every_binary() {
    let db = TestDb::new().await;
    add_future_migration(&db).await;
    let bin = schema::binary_version().to_string();
    for (name, args) in [
        ("paliadin-api", &["serve"][..]),
        ("paliadin-worker", &[][..]),
    ] {
        let (code, out) = run(name, args, &db);
        assert_ne!(code, 0, "{name} started against a newer schema:\n{out}");
        assert!(out.contains(&FUTURE.to_string()), "{name}: {out}");
        assert!(out.contains(&bin), "{name} names its own version: {out}");
        assert!(out.contains("upgrade this binary"), "{name}: {out}");
    }
    for name in ["paliadin-api", "paliadin-worker"] {
        let (code, out) = run(name, &["doctor"], &db);
        assert_eq!(code, 1, "{out}");
        let line = out
            .lines()
            .find(|l| l.starts_with("fail database migrated:"))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        assert!(
            line.contains(&FUTURE.to_string()) && line.contains(&bin),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_marked_compatible_runs() {
    let db = TestDb::new().await;
    add_future_migration(&db).await;
    sqlx::query("INSERT INTO schema_compat (version) VALUES ($1)")
        .bind(FUTURE)
        .execute(&db.pool)
        .await
        .unwrap();
    // The API serves (it waits for /readyz, which runs the same check).
    let mut api = ApiProc::start(&db).await;
    api.kill().await;
    // The worker registers and heartbeats.
    let rig = TmuxRig::new();
    let _worker = rig.worker(&db.url, "w-compat");
    paliadin_e2e::wait_until(20, "the worker registers", || {
        let q = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM workers WHERE id = 'w-compat'")
            .fetch_one(&db.pool);
        async move { q.await.unwrap() == 1 }
    })
    .await;
    let (code, out) = run("paliadin-api", &["doctor"], &db);
    let line = out
        .lines()
        .find(|l| l.starts_with("ok   database migrated:"))
        .unwrap_or_else(|| panic!("{code}: {out}"));
    assert!(line.contains("marked compatible"), "{line}");
}

#[tokio::test]
async fn a_missing_migration_is_refused() {
    let db = TestDb::new().await;
    let bin = schema::binary_version();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(bin)
        .execute(&db.pool)
        .await
        .unwrap();
    let at: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    for (name, args) in [
        ("paliadin-api", &["serve"][..]),
        ("paliadin-worker", &[][..]),
    ] {
        let (code, out) = run(name, args, &db);
        assert_ne!(code, 0, "{name} started on a schema behind it:\n{out}");
        assert!(out.contains(&bin.to_string()), "{name}: {out}");
        assert!(
            out.contains(&at.to_string()),
            "{name} names the database's: {out}"
        );
        assert!(out.contains("run `paliadin-api migrate`"), "{name}: {out}");
    }
}

#[test]
fn the_compat_migration_carries_its_marker() {
    // The migration that creates `schema_compat` only adds a table: binaries before it still run.
    assert!(schema::compatible_versions().contains(&20261201000001));
}

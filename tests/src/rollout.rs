//! Operating Paliadin the way `docs/operations.md` says, for the installed-tree and rolling
//! upgrade suites: the admin commands of a given `paliadin-api` binary (`migrate`, `user add`,
//! `doctor`), waiting for a turn to run on a worker, and the final check of every turn of a run
//! (succeeded, delivered once, well-formed events, each user's order kept).

use crate::db::TestDb;
use crate::fault::audit;
use crate::ordering::{OrderReport, check_user};
use crate::procs::TmuxRig;
use std::path::Path;
use uuid::Uuid;

/// Runs `bin args…` against `db_url` (as an operator would, `DATABASE_URL` in the
/// environment); returns its stdout, asserting success.
pub fn admin(bin: &Path, args: &[&str], db_url: &str) -> String {
    let out = std::process::Command::new(bin)
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} {args:?}: {}\n{stdout}{}",
        bin.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `paliadin-api user add --email <email> --role owner` with `bin`: the token it printed last.
pub fn add_owner(bin: &Path, db_url: &str, email: &str) -> String {
    let out = admin(
        bin,
        &["user", "add", "--email", email, "--role", "owner"],
        db_url,
    );
    out.lines().last().expect("a token line").trim().to_owned()
}

/// Waits until `turn` is running (checking every 20 ms, as [`crate::wait_until`] does, for at
/// most 30 s); returns the id of the worker running it.
pub async fn running_on(db: &TestDb, turn: &str) -> String {
    let id = Uuid::parse_str(turn).expect("turn id");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let worker: Option<Option<String>> =
            sqlx::query_scalar("SELECT worker_id FROM turns WHERE id = $1 AND state = 'running'")
                .bind(id)
                .fetch_optional(&db.pool)
                .await
                .expect("turn row");
        if let Some(Some(w)) = worker {
            return w;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for turn {turn} to run"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The worker that finished `turn`, and how many times it was handed over (`releases`).
pub async fn finished_by(db: &TestDb, turn: &str) -> (String, i32) {
    sqlx::query_as(
        "SELECT worker_id, releases FROM turns WHERE id = $1 AND finished_at IS NOT NULL",
    )
    .bind(Uuid::parse_str(turn).expect("turn id"))
    .fetch_one(&db.pool)
    .await
    .expect("a finished turn")
}

/// Checks every turn of the run, given per user in the order posted: each succeeded, reached
/// the agent exactly once (the demo agent's receipts), has events `1..=n` ending in one
/// terminal event whose deltas make its reply, and no user's turn overtook an earlier one.
/// Also: no turn of the database is anything but `succeeded`.
pub async fn assert_all_served(db: &TestDb, rig: &TmuxRig, per_user: &[Vec<Uuid>]) {
    let all: Vec<Uuid> = per_user.iter().flatten().copied().collect();
    let found = audit(db, rig, &all).await;
    assert!(found.clean(), "{found:?}");
    let mut order = OrderReport::default();
    for turns in per_user {
        order.add(&check_user(db, rig, turns).await);
    }
    assert!(order.clean(), "{order:?}");
    let other: i64 = sqlx::query_scalar("SELECT count(*) FROM turns WHERE state <> 'succeeded'")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(other, 0, "turns that did not succeed");
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM turns")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(total as usize, all.len(), "turns the run did not post");
}

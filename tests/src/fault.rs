//! The fault suite's harness: the API as a real process (`paliadin-api serve`, killable),
//! signals to processes we started, the trial count, and the ground-truth audit of turns —
//! receipts counted by the demo agent (`.ack` lines) against the event tables.

use crate::db::TestDb;
use crate::procs::{TmuxRig, binary};
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use tokio::process::{Child, Command};
use uuid::Uuid;

/// Trials per scenario: `PALIADIN_FAULT_TRIALS`, else `default` (the short CI run).
pub fn trials(default: usize) -> usize {
    std::env::var("PALIADIN_FAULT_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// A scale factor for load scenarios: `PALIADIN_FAULT_SCALE`, else 1.
pub fn scale() -> usize {
    std::env::var("PALIADIN_FAULT_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

/// Sends `signal` (`-KILL`, `-TERM`) to a process this test started.
pub fn signal(child: &Child, signal: &str) {
    let pid = child.id().expect("process still running").to_string();
    let ok = std::process::Command::new("kill")
        .args([signal, &pid])
        .status();
    assert!(ok.is_ok_and(|s| s.success()), "kill {signal} {pid}");
}

/// `paliadin-api serve` on a free loopback port.
pub struct ApiProc {
    pub base: String,
    pub child: Child,
}

impl ApiProc {
    /// Starts the API and waits until it answers `/readyz`.
    pub async fn start(db: &TestDb) -> ApiProc {
        ApiProc::start_with(db, &[]).await
    }

    /// [`ApiProc::start`] with settings of its own (`(variable, value)`).
    pub async fn start_with(db: &TestDb, env: &[(&str, &str)]) -> ApiProc {
        ApiProc::start_bin(&binary("paliadin-api"), db, env).await
    }

    /// [`ApiProc::start_with`] from the `paliadin-api` at `bin` (an installed tree, an older
    /// release).
    pub async fn start_bin(bin: &Path, db: &TestDb, env: &[(&str, &str)]) -> ApiProc {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free loopback port")
            .port();
        let child = Command::new(bin)
            .arg("serve")
            .env("DATABASE_URL", &db.url)
            .env("PALIADIN_BIND", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn paliadin-api");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        crate::wait_until(20, "the API answers /readyz", || {
            let r = http.get(format!("{base}/readyz")).send();
            async move { r.await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        ApiProc { base, child }
    }

    /// SIGTERM, as `systemctl stop` sends it; waits for a clean exit.
    pub async fn stop(&mut self) {
        signal(&self.child, "-TERM");
        let status = self.child.wait().await.expect("reaped");
        assert!(status.success(), "paliadin-api exited with {status}");
    }

    pub async fn kill(&mut self) {
        signal(&self.child, "-KILL");
        self.child.wait().await.expect("reaped");
    }
}

/// What the audit of a set of turns found; every count but `turns` must be zero.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Audit {
    pub turns: usize,
    /// Turns not `succeeded` (lost, failed or still running).
    pub lost: usize,
    /// Turns whose message reached the agent more than once (or never).
    pub bad_receipts: usize,
    /// Turns whose events are not `1..=n` with exactly one terminal event, last.
    pub bad_events: usize,
    /// Turns whose concatenated deltas differ from `reply_text`.
    pub bad_deltas: usize,
}

impl Audit {
    pub fn clean(&self) -> bool {
        self.lost + self.bad_receipts + self.bad_events + self.bad_deltas == 0
    }
}

/// Checks every turn against the ground truth: the row, its events, the agent's receipts.
pub async fn audit(db: &TestDb, rig: &TmuxRig, turns: &[Uuid]) -> Audit {
    let mut a = Audit {
        turns: turns.len(),
        ..Audit::default()
    };
    for &id in turns {
        let (state, reply): (String, Option<String>) =
            sqlx::query_as("SELECT state, reply_text FROM turns WHERE id = $1")
                .bind(id)
                .fetch_one(&db.pool)
                .await
                .expect("turn row");
        let evs: Vec<(i32, String, Value)> = sqlx::query_as(
            "SELECT seq, kind, data FROM turn_events WHERE turn_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .expect("events");
        let why = |what: &str| eprintln!("audit: turn {id} {what} (state {state}): {evs:?}");
        if state != "succeeded" {
            why("did not succeed");
            a.lost += 1;
        }
        if rig.receipts(&id.to_string()) != 1 {
            why(&format!("has {} receipts", rig.receipts(&id.to_string())));
            a.bad_receipts += 1;
        }
        if !events_well_formed(&evs) {
            why("has malformed events");
            a.bad_events += 1;
        }
        let deltas: String = evs
            .iter()
            .filter(|e| e.1 == "content")
            .filter_map(|e| e.2["delta"].as_str())
            .collect();
        if reply.as_deref().is_some_and(|r| r != deltas) {
            why("streamed deltas that are not its reply");
            a.bad_deltas += 1;
        }
    }
    a
}

/// Sequence `1..=n`, `meta` first, exactly one terminal event and it is the last.
fn events_well_formed(evs: &[(i32, String, Value)]) -> bool {
    let terminal = |k: &str| matches!(k, "end" | "error" | "cancelled");
    let seqs_ok = evs.iter().enumerate().all(|(i, e)| e.0 == i as i32 + 1);
    let terminals = evs.iter().filter(|e| terminal(&e.1)).count();
    seqs_ok
        && evs.first().is_some_and(|e| e.1 == "meta")
        && terminals == 1
        && evs.last().is_some_and(|e| terminal(&e.1))
}

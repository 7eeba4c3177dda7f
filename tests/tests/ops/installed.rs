//! The installed tree serves: the `paliadin` and `paliadin-host` packages (`cargo deb`, as
//! `ops::packages` builds them) unpacked with `dpkg-deb -x`, and everything below run from that
//! tree, not from `target/debug` — `paliadin-api migrate`, `user add`, both doctors as
//! `docs/operations.md` ("Install") runs them, two `paliadin-api serve` and three
//! `paliadin-worker`, with the packaged demo agent in a private tmux server.
//!
//! Four users post turns over HTTP to one API and follow them over SSE on the other. While
//! turns run, the worker that holds the long turn is drained the documented way (SIGTERM, what
//! `systemctl stop paliadin-worker@N` sends): it claims nothing new, lets its turns finish
//! within the grace, hands the long one back, and exits cleanly. Every turn ends `end`, reached
//! the agent exactly once, in each user's order; the long turn was handed over and finished by
//! another worker; none failed.

use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::{ApiProc, signal};
use paliadin_e2e::http::Client;
use paliadin_e2e::packages::{self, Scratch};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::rollout::{add_owner, admin, assert_all_served, finished_by, running_on};
use paliadin_e2e::units;
use std::time::Duration;
use tokio::process::Command;
use uuid::Uuid;

const USERS: usize = 4;
const ROUNDS: usize = 2;
/// Turns a user posts at once (they queue behind each other: one at a time per user).
const PER_ROUND: usize = 3;

/// User `u`'s turns: posted on `post`, each followed over SSE to its end on `follow`.
async fn user_load(u: usize, post: Client, follow: Client) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for r in 0..ROUNDS {
        let mut round = Vec::new();
        for k in 0..PER_ROUND {
            round.push(post.turn(&format!("/slow 300 user {u} turn {r}.{k}")).await);
        }
        for (id, sse) in round {
            let evs = follow.stream_all(&sse, None, 60).await;
            assert_eq!(evs.last().map(|e| e.event.as_str()), Some("end"), "{evs:?}");
            ids.push(Uuid::parse_str(&id).unwrap());
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apis_and_three_installed_workers_serve_through_a_drain_with_no_failed_turn() {
    if !packages::available() {
        return;
    }
    let started = std::time::Instant::now();
    let scratch = Scratch::new("installed");
    let root = scratch.0.join("root");
    for krate in ["paliadin-api", "paliadin-worker"] {
        let deb = packages::build(&units::workspace(), krate, &scratch.0);
        packages::extract(&deb, &root);
    }
    eprintln!(
        "packages built and unpacked in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let bin = |name: &str| root.join("usr/bin").join(name);
    let api_bin = bin("paliadin-api");

    // Install, as docs/operations.md does it: migrate, a user per person, doctor.
    let db = TestDb::empty().await;
    admin(&api_bin, &["migrate"], &db.url);
    let tokens: Vec<String> = (0..USERS)
        .map(|u| add_owner(&api_bin, &db.url, &format!("user{u}@example.com")))
        .collect();
    let report = admin(&api_bin, &["doctor"], &db.url);
    assert!(report.contains("ok   database migrated"), "{report}");

    let api_env = [("PALIADIN_DB_POOL", "8")];
    let apis = [
        ApiProc::start_bin(&api_bin, &db, &api_env).await,
        ApiProc::start_bin(&api_bin, &db, &api_env).await,
    ];
    let rig = TmuxRig::new();
    let agent = bin("paliadin-demo-agent");
    let worker_env = [
        ("PALIADIN_AGENT_CMD", agent.to_str().unwrap()),
        ("PALIADIN_CONCURRENCY", "4"),
        ("PALIADIN_SHUTDOWN_GRACE_SECS", "1"),
    ];
    let mut workers: Vec<(String, tokio::process::Child)> = (1..=3)
        .map(|n| {
            let id = format!("installed-{n}");
            let cmd = Command::new(bin("paliadin-worker"));
            let child = rig.worker_via(cmd, &db.url, &id, &worker_env);
            (id, child)
        })
        .collect();
    // The worker's doctor from the tree, with the workers' settings, once they made the spool.
    paliadin_e2e::wait_until(20, "the workers register", || {
        let q = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM workers").fetch_one(&db.pool);
        async move { q.await.unwrap() == 3 }
    })
    .await;
    let mut doctor = Command::new(bin("paliadin-worker"));
    doctor.arg("doctor").stdout(std::process::Stdio::piped());
    let out = rig
        .worker_via(doctor, &db.url, "installed-doctor", &worker_env)
        .wait_with_output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains(&format!("ok   agent command: {}", agent.display())),
        "{report}"
    );
    let client = |u: usize, api: usize| Client::new(&apis[api].base, Some(&tokens[u]));

    // User 0's first turn outlasts the grace: whoever drains with it must hand it over.
    let (long, long_sse) = client(0, 0).turn("/slow 4000 the long turn").await;
    let mut load = Vec::new();
    for u in 0..USERS {
        load.push(tokio::spawn(user_load(
            u,
            client(u, u % 2),
            client(u, (u + 1) % 2),
        )));
    }
    let holder = running_on(&db, &long).await;
    // Under load: other users' turns have finished and more are running.
    paliadin_e2e::wait_until(30, "four turns finished", || {
        let q =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM turns WHERE state = 'succeeded'")
                .fetch_one(&db.pool);
        async move { q.await.unwrap() >= 4 }
    })
    .await;
    let running: Vec<String> =
        sqlx::query_scalar("SELECT worker_id FROM turns WHERE state = 'running'")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(
        running.contains(&holder),
        "the long turn ended before the drain"
    );
    let i = workers.iter().position(|(id, _)| *id == holder).unwrap();
    let (drained, mut child) = workers.remove(i);
    signal(&child, "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the drained worker exits within the grace")
        .expect("reaped");
    assert!(status.success(), "the drained worker exited with {status}");
    let stopped: bool =
        sqlx::query_scalar("SELECT stopped_at IS NOT NULL FROM workers WHERE id = $1")
            .bind(&drained)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(stopped, "{drained} did not record its stop");

    let evs = client(0, 1).stream_all(&long_sse, None, 60).await;
    assert_eq!(evs.last().map(|e| e.event.as_str()), Some("end"), "{evs:?}");
    let (finisher, releases) = finished_by(&db, &long).await;
    assert!(
        finisher != drained && releases >= 1,
        "the long turn was not handed over: finished by {finisher} after {releases} releases"
    );
    let mut per_user = Vec::new();
    for (u, l) in load.into_iter().enumerate() {
        let mut ids = l.await.expect("load task");
        if u == 0 {
            ids.insert(0, Uuid::parse_str(&long).unwrap());
        }
        per_user.push(ids);
    }
    let served_by_drained: i64 =
        sqlx::query_scalar("SELECT count(*) FROM turns WHERE worker_id = $1")
            .bind(&drained)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_all_served(&db, &rig, &per_user).await;
    eprintln!(
        "{} turns, {drained} drained while {} turns ran ({} on it; it finished \
         {served_by_drained} before stopping), {:.1} s in all",
        per_user.iter().flatten().count(),
        running.len(),
        running.iter().filter(|w| **w == drained).count(),
        started.elapsed().as_secs_f64()
    );
}

//! Fault scenario 6: a rolling restart of every worker (SIGTERM one at a time, each replaced)
//! under steady load. With a 30 s lease and no shutdown grace, running turns are handed over at
//! once: every turn succeeds, none waits for a lease, nothing is pasted twice.
//! `PALIADIN_FAULT_TRIALS` sets the number of rolling restarts (default 1).

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::{audit, scale, trials};
use paliadin_e2e::fleet::Fleet;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_fails_no_turn_and_waits_for_no_lease() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let slow_lease = [
        ("PALIADIN_LEASE_SECS", "30"),
        ("PALIADIN_SHUTDOWN_GRACE_SECS", "0"),
    ];
    let mut fleet = Fleet::start(&db.url, 3, &slow_lease);
    let rounds = trials(1);
    // Turns complete between restarts, so every restart meets a different mix of running
    // turns (handovers no longer spend attempts: `fault::attempts`).
    let (users, per_user) = (4, 6 * rounds * scale());
    let done = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for u in 0..users {
        let (_, token) = user(&db, &format!("r{u}@x"), Role::Owner).await;
        let c = Client::new(&api.base, Some(&token));
        let done = done.clone();
        load.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for k in 0..per_user {
                let (id, sse) = c.turn(&format!("/slow 300 turn {k}")).await;
                let evs = c.stream_all(&sse, None, 60).await;
                assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
                ids.push(Uuid::parse_str(&id).unwrap());
                done.fetch_add(1, Ordering::SeqCst);
            }
            ids
        }));
    }
    let total = users * per_user;
    let step = total / (rounds * 3 + 1);
    for r in 0..rounds * 3 {
        let target = step * (r + 1);
        paliadin_e2e::wait_until(60, "load progress", || {
            let d = done.load(Ordering::SeqCst);
            async move { d >= target }
        })
        .await;
        fleet.stop_and_replace(r % 3).await;
    }
    let mut ids = Vec::new();
    for l in load {
        ids.extend(l.await.expect("load task"));
    }
    let found = audit(&db, &fleet.rig, &ids).await;
    let slowest: f64 = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM max(finished_at - queued_at))::float8 FROM turns",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let handed: i64 = sqlx::query_scalar("SELECT count(*) FROM turns WHERE attempt > 1")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    eprintln!(
        "scenario 6: {} restarts, {} turns, {handed} handed over, slowest {slowest:.2} s, {found:?}",
        rounds * 3,
        ids.len()
    );
    assert!(found.clean(), "{found:?}");
    assert!(slowest < 15.0, "a turn waited for a lease: {slowest:.2} s");
}

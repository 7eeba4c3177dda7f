//! Pins queue semantics with real PostgreSQL/pgmq and an in-process driver: per-user order with
//! several workers and many users, lease expiry and takeover, dead
//! letters after `max_attempts`, and cancelling queued and running turns.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, concat_deltas, user};
use paliadin_e2e::scripted::ScriptedDriver;
use paliadin_e2e::system::{IsolatedWorker, fast_runtime, start_api, start_worker};
use paliadin_e2e::wait_until;
use paliadin_shared::TurnState;
use paliadin_shared::db::users::Role;
use paliadin_shared::db::{fenced, turns};
use paliadin_worker::config::RuntimeConfig;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

async fn state_of(db: &TestDb, id: &str) -> String {
    sqlx::query_scalar("SELECT state FROM turns WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn per_user_order_holds_across_three_workers_and_twenty_users() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let driver = Arc::new(ScriptedDriver::default());
    let mut workers = Vec::new();
    for i in 0..3 {
        let cfg = RuntimeConfig {
            concurrency: 4,
            ..fast_runtime(&format!("w{i}"))
        };
        workers.push(start_worker(&db, driver.clone(), cfg).await);
    }
    let mut clients = Vec::new();
    for u in 0..20 {
        let (row, token) = user(&db, &format!("u{u}@x"), Role::Owner).await;
        clients.push((row.id, Client::new(&api.base, Some(&token))));
    }
    // 5 turns per user, posted user by user so every user has a backlog.
    let mut expected: HashMap<uuid::Uuid, Vec<String>> = HashMap::new();
    let mut all = Vec::new();
    for round in 0..5 {
        for (uid, c) in &clients {
            let msg = format!("sleep:15 user {uid} turn {round}");
            let (id, sse) = c.turn(&msg).await;
            expected.entry(*uid).or_default().push(msg);
            all.push((c.clone(), id, sse));
        }
    }
    for (c, _, sse) in &all {
        let evs = c.stream_all(sse, None, 60).await;
        assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    }
    assert_eq!(
        driver.overlaps.load(Ordering::SeqCst),
        0,
        "a user had two turns running at once"
    );
    assert!(
        driver.max_parallel.load(Ordering::SeqCst) > 1,
        "users did not run in parallel"
    );
    let runs = driver.runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 100);
    for (uid, msgs) in expected {
        let mut mine: Vec<_> = runs.iter().filter(|r| r.user == uid).collect();
        mine.sort_by_key(|r| r.start);
        let order: Vec<String> = mine.iter().map(|r| r.message.clone()).collect();
        assert_eq!(order, msgs, "order of user {uid}");
        for w in mine.windows(2) {
            assert!(w[0].end <= w[1].start, "overlap within user {uid}");
        }
    }
    let served: Vec<String> = sqlx::query_scalar("SELECT DISTINCT worker_id FROM turns")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert!(
        served.len() >= 2,
        "work was not spread over workers: {served:?}"
    );
    for w in workers {
        w.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_lease_passes_the_turn_to_another_worker() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let dying = IsolatedWorker::start(
        db.url.clone(),
        Arc::new(ScriptedDriver::default()),
        RuntimeConfig {
            lease_secs: 2,
            ..fast_runtime("dies")
        },
    );
    let (id, sse) = c.turn("gate:never first").await;
    // Wait until the doomed worker has delivered and streamed a first chunk.
    wait_until(20, "first content from the dying worker", || {
        let pool = db.pool.clone();
        let id = id.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM turn_events WHERE turn_id = $1::uuid AND kind = 'content'",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
                > 0
        }
    })
    .await;
    dying.kill();
    let rescuer = Arc::new(ScriptedDriver::default());
    rescuer.open("never");
    let w = start_worker(&db, rescuer.clone(), fast_runtime("rescuer")).await;
    let evs = c.stream_all(&sse, None, 30).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    let workers: Vec<&str> = evs
        .iter()
        .filter(|e| e.data["state"] == "claimed")
        .map(|e| e.data["worker"].as_str().unwrap())
        .collect();
    assert_eq!(workers, ["dies", "rescuer"]);
    let row = turns::get(&db.pool, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.attempt, row.state), (2, TurnState::Succeeded));
    // The takeover knew the turn was delivered already and did not deliver it again.
    let runs = rescuer.runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].delivered_before, "takeover must not paste again");
    let delivered = evs
        .iter()
        .filter(|e| e.data["state"] == "delivered")
        .count();
    assert_eq!(delivered, 1);
    w.stop().await;
}

#[tokio::test]
async fn a_turn_past_max_attempts_fails_and_does_not_block_the_user() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let (doomed, doomed_sse) = c.turn("doomed").await;
    let (_, next_sse) = c.turn("next").await;
    // Simulate two workers that claimed and died.
    for w in ["dead1", "dead2"] {
        fenced::claim(&db.pool, doomed.parse().unwrap(), w, None, None)
            .await
            .unwrap()
            .unwrap();
    }
    let driver = Arc::new(ScriptedDriver::default());
    let w = start_worker(
        &db,
        driver.clone(),
        RuntimeConfig {
            max_attempts: 2,
            ..fast_runtime("w")
        },
    )
    .await;
    let evs = c.stream_all(&doomed_sse, None, 30).await;
    let last = evs.last().unwrap();
    assert_eq!(
        (last.event.as_str(), last.data["code"].as_str()),
        ("error", Some("worker_lost"))
    );
    let evs = c.stream_all(&next_sse, None, 30).await;
    assert_eq!(evs.last().unwrap().event, "end");
    // The dead letter reaches the driver only to interrupt its agent (cancel already fired,
    // as delivered: never pasted again); the next turn runs once.
    let runs = driver.runs.lock().unwrap().clone();
    let doomed: uuid::Uuid = doomed.parse().unwrap();
    assert!(
        runs.iter()
            .filter(|r| r.turn == doomed)
            .all(|r| r.delivered_before),
        "the dead letter must not be pasted: {runs:?}"
    );
    assert_eq!(runs.iter().filter(|r| r.turn != doomed).count(), 1);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_removes_a_queued_turn_and_interrupts_a_running_one() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let driver = Arc::new(ScriptedDriver::default());
    let (running, running_sse) = c.turn("hang").await;
    let (queued, queued_sse) = c.turn("behind").await;
    let (after, after_sse) = c.turn("after").await;
    // Cancel the queued one before any worker exists.
    let (s, v) = c
        .post(
            &format!("/api/paliadin/turn/{queued}/cancel"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("cancelled")));
    let evs = c.stream_all(&queued_sse, None, 10).await;
    assert_eq!(evs.last().unwrap().event, "cancelled");
    let w = start_worker(&db, driver.clone(), fast_runtime("w")).await;
    wait_until(20, "running turn claimed", || {
        let db = &db;
        let running = running.clone();
        async move { state_of(db, &running).await == "running" }
    })
    .await;
    let (s, v) = c
        .post(
            &format!("/api/paliadin/turn/{running}/cancel"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("cancelling")));
    let evs = c.stream_all(&running_sse, None, 20).await;
    assert_eq!(evs.last().unwrap().event, "cancelled");
    let evs = c.stream_all(&after_sse, None, 20).await;
    assert_eq!(evs.last().unwrap().event, "end");
    assert_eq!(concat_deltas(&evs), ScriptedDriver::reply_for("after"));
    let ran: Vec<String> = driver
        .runs
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.message.clone())
        .collect();
    assert_eq!(
        ran,
        ["hang", "after"],
        "the cancelled queued turn must never run"
    );
    assert_eq!(state_of(&db, &after).await, "succeeded");
    // A finished turn cannot be cancelled.
    let (s, v) = c
        .post(
            &format!("/api/paliadin/turn/{after}/cancel"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!((s, v["error"].as_str()), (409, Some("conflict")));
    w.stop().await;
}

#[tokio::test]
async fn archived_messages_past_retention_are_pruned_and_history_stays() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let w = start_worker(&db, Arc::new(ScriptedDriver::default()), fast_runtime("w1")).await;
    let (old, old_sse) = c.turn("old").await;
    let (_, new_sse) = c.turn("new").await;
    for sse in [&old_sse, &new_sse] {
        assert_eq!(
            c.stream_all(sse, None, 20).await.last().unwrap().event,
            "end"
        );
    }
    w.stop().await;
    let archived = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pgmq.a_turns_local")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(archived(&db).await, 2);
    sqlx::query("UPDATE pgmq.a_turns_local SET archived_at = now() - interval '2 hours' WHERE message->>'turn_id' = $1")
        .bind(&old)
        .execute(&db.pool)
        .await
        .unwrap();
    let cfg = RuntimeConfig {
        archive_retention_hours: 1,
        ..fast_runtime("w2")
    };
    let w = start_worker(&db, Arc::new(ScriptedDriver::default()), cfg).await;
    wait_until(20, "old archived message pruned", || async {
        archived(&db).await == 1
    })
    .await;
    // The turn itself and its events stay: history and replay do not depend on the archive.
    let replay = c.stream_all(&old_sse, None, 10).await;
    assert_eq!(replay.last().unwrap().event, "end");
    assert_eq!(state_of(&db, &old).await, "succeeded");
    w.stop().await;
}

//! Pins the lease of a claimed turn ([`paliadin_shared::attempt::Attempt`]) with real
//! PostgreSQL/pgmq: a stopping worker hands its turns over at once (not after the lease); a
//! panic inside a turn stops its heartbeat; a worker whose renewals fail lets go when its lease
//! runs out; the lease is held until the result has committed; and a stale release cannot make
//! a newer owner's message visible.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::scripted::ScriptedDriver;
use paliadin_e2e::system::{Api, WorkerHandle, fast_runtime, start_api, start_worker};
use paliadin_e2e::wait_until;
use paliadin_shared::db::turns;
use paliadin_shared::db::users::Role;
use paliadin_worker::config::RuntimeConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The pgmq message of a turn, as `(vt in the future, read_ct)`; `None` once archived.
async fn message(db: &TestDb, turn: &str) -> Option<(bool, i32)> {
    sqlx::query_as(
        "SELECT vt > clock_timestamp(), read_ct FROM pgmq.q_turns_local WHERE message->>'turn_id' = $1",
    )
    .bind(turn)
    .fetch_optional(&db.pool)
    .await
    .unwrap()
}

/// A database, the API and an owner's client.
struct Owner {
    db: TestDb,
    c: Client,
    _api: Api,
}

async fn owner() -> Owner {
    let db = TestDb::new().await;
    let _api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&_api.base, Some(&token));
    Owner { db, c, _api }
}

/// A worker with a 2 s lease and a scripted driver of its own.
async fn short_lease_worker(db: &TestDb) -> (Arc<ScriptedDriver>, WorkerHandle) {
    let driver = Arc::new(ScriptedDriver::default());
    let cfg = RuntimeConfig {
        lease_secs: 2,
        ..fast_runtime("w")
    };
    (driver.clone(), start_worker(db, driver, cfg).await)
}

async fn attempt_of(db: &TestDb, turn: &str) -> i32 {
    let row = turns::get(&db.pool, turn.parse().unwrap()).await.unwrap();
    row.unwrap().attempt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_worker_hands_its_turn_over_at_once() {
    let Owner { db, c, _api } = &owner().await;
    // A long lease: waiting for it to lapse would take 30 s.
    let stopping = start_worker(
        db,
        Arc::new(ScriptedDriver::default()),
        RuntimeConfig {
            lease_secs: 30,
            shutdown_grace_secs: 0,
            ..fast_runtime("stops")
        },
    )
    .await;
    let (id, sse) = c.turn("gate:never first").await;
    wait_until(20, "first content from the stopping worker", || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM turn_events WHERE turn_id = $1::uuid AND kind = 'content'",
        )
        .bind(&id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        n > 0
    })
    .await;
    stopping.stop().await;
    let stopped = Instant::now();
    assert_eq!(
        message(db, &id).await.map(|m| m.0),
        Some(false),
        "the stopped worker's message must be visible at once"
    );
    let rescuer = Arc::new(ScriptedDriver::default());
    rescuer.open("never");
    let w = start_worker(db, rescuer.clone(), fast_runtime("rescuer")).await;
    let evs = c.stream_all(&sse, None, 10).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(10), "takeover took {took:?}");
    assert_eq!(attempt_of(db, &id).await, 2);
    assert!(rescuer.runs.lock().unwrap()[0].delivered_before);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panic_in_a_turn_stops_its_heartbeat() {
    let Owner { db, c, _api } = &owner().await;
    let (_, w) = short_lease_worker(db).await;
    let (id, sse) = c.turn("panic once").await;
    // The panicking attempt's lease lapses; the turn is taken over (here by the same worker).
    let evs = c.stream_all(&sse, None, 20).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    assert_eq!(attempt_of(db, &id).await, 2);
    // The worker is still whole: its slot and in-flight count came back, it takes new turns.
    let (_, next) = c.turn("after the panic").await;
    let evs = c.stream_all(&next, None, 20).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_attempt_whose_renewals_fail_lets_go_when_its_lease_runs_out() {
    let Owner { db, c, _api } = &owner().await;
    let (driver, w) = short_lease_worker(db).await;
    let (id, _) = c.turn("hang").await;
    wait_until(20, "turn running", || async {
        attempt_of(db, &id).await == 1 && message(db, &id).await.is_some_and(|m| m.0)
    })
    .await;
    // Every renewal (`set_vt` on the message) now blocks behind this lock.
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM pgmq.q_turns_local WHERE message->>'turn_id' = $1 FOR UPDATE")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let locked = Instant::now();
    wait_until(10, "the driver told to let go", || async {
        !driver.runs.lock().unwrap().is_empty()
    })
    .await;
    assert!(
        locked.elapsed() <= Duration::from_secs(3),
        "{:?}",
        locked.elapsed()
    );
    tx.rollback().await.unwrap();
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_lease_is_held_until_the_result_has_committed() {
    let Owner { db, c, _api } = &owner().await;
    // A slow commit: the `end` event takes longer to write than the whole lease.
    sqlx::raw_sql(
        "CREATE FUNCTION slow_end() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.kind = 'end' THEN PERFORM pg_sleep(3.5); END IF; RETURN NEW; END $$;
         CREATE TRIGGER slow_end BEFORE INSERT ON turn_events FOR EACH ROW EXECUTE FUNCTION slow_end();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let (_, w) = short_lease_worker(db).await;
    let (id, sse) = c.turn("hello").await;
    let evs = c.stream_all(&sse, None, 20).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    w.stop().await;
    let read_ct: i32 =
        sqlx::query_scalar("SELECT read_ct FROM pgmq.a_turns_local WHERE message->>'turn_id' = $1")
            .bind(&id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        read_ct, 1,
        "the message was read again while its result committed"
    );
}

mod release;

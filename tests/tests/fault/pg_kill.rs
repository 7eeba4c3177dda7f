//! Fault scenario 3: PostgreSQL backends of the application are killed under load
//! (`pg_terminate_backend` of every connection of the API and the workers). The processes
//! recover by themselves, every accepted turn completes exactly once, and the time from the
//! kill to the first answered turn is reported. `PALIADIN_FAULT_TRIALS` sets the number of
//! kills (default 2).

use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::{ApiProc, audit, trials};
use paliadin_e2e::fleet::Fleet;
use paliadin_e2e::http::{Client, user};
use paliadin_shared::db::users::Role;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Terminates every backend of the test database except this one (its own pool's included:
/// sqlx replaces them). Returns how many it killed.
async fn terminate_all(db: &TestDb) -> i64 {
    let mut admin = sqlx::PgConnection::connect(&paliadin_e2e::db::admin_url())
        .await
        .unwrap();
    sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
          WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&db.name)
    .fetch_one(&mut admin)
    .await
    .unwrap()
}

use sqlx::Connection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_database_connections_are_recovered_and_no_turn_is_lost() {
    let db = TestDb::new().await;
    let fleet = Fleet::start(&db.url, 2, &[]);
    let api = ApiProc::start(&db).await;
    let mut clients = Vec::new();
    for i in 0..4 {
        let (_, token) = user(&db, &format!("p{i}@x"), Role::Owner).await;
        clients.push(Client::new(&api.base, Some(&token)));
    }
    let (mut ids, mut recoveries) = (Vec::new(), Vec::new());
    for _ in 0..trials(2) {
        let mut pending = Vec::new();
        for c in &clients {
            let (id, sse) = c.turn("/stream 10 under load").await;
            pending.push((c, id, sse));
        }
        let killed = terminate_all(&db).await;
        let at = Instant::now();
        // Probe: retry a turn until the API accepts it again, then wait for its answer.
        let probe = &clients[0];
        let sse = loop {
            let body = serde_json::json!({ "user_message": "probe" });
            let (s, v) = probe.post("/api/paliadin/turn", &body).await;
            if s == 200 {
                ids.push(Uuid::parse_str(v["turn_id"].as_str().unwrap()).unwrap());
                break v["sse_url"].as_str().unwrap().to_owned();
            }
            assert!(
                at.elapsed() < Duration::from_secs(30),
                "no recovery: {s} {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let evs = probe.stream_all(&sse, None, 90).await;
        assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
        recoveries.push((killed, at.elapsed().as_millis()));
        for (c, id, sse) in pending {
            let evs = c.stream_all(&sse, None, 90).await;
            assert!(evs.last().is_some_and(|e| e.is_terminal()), "{evs:?}");
            ids.push(Uuid::parse_str(&id).unwrap());
        }
    }
    let found = audit(&db, &fleet.rig, &ids).await;
    eprintln!(
        "scenario 3: (backends killed, ms to the first answered turn) {recoveries:?}, {found:?}"
    );
    assert!(found.clean(), "{found:?}");
}

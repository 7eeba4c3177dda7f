//! Fault scenario 1: workers SIGKILLed at random points of a turn (before or after its claim,
//! around the paste, while it streams, after the reply, during the finish) while other workers
//! keep running. Every turn must end `succeeded` with one receipt, gap-free events with one
//! terminal event, and deltas that add up to the reply. `PALIADIN_FAULT_TRIALS` sets the
//! number of kills (default 6); `PALIADIN_FAULT_SEED` replays a run.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::{audit, trials};
use paliadin_e2e::fleet::{Fleet, Rng};
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

const MESSAGES: [&str; 4] = [
    "/stream 8 tell me",
    "/slow 400 wait",
    "hello",
    "/activity 5",
];

/// Where a turn was when its worker died, from its row.
async fn phase(db: &TestDb, id: Uuid) -> (Option<String>, &'static str) {
    let (state, worker, delivered, contents): (String, Option<String>, bool, i64) = sqlx::query_as(
        "SELECT state, worker_id, delivered_at IS NOT NULL,
                    (SELECT count(*) FROM turn_events e WHERE e.turn_id = t.id AND kind = 'content')
               FROM turns t WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let phase = match (state.as_str(), delivered, contents) {
        ("queued", ..) => "queued",
        ("running", false, _) => "claimed, not delivered",
        ("running", true, 0) => "delivered",
        ("running", true, _) => "streaming",
        _ => "finished",
    };
    (worker, phase)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_killed_at_random_points_lose_and_duplicate_nothing() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let mut fleet = Fleet::start(&db.url, 3, &[]);
    let mut clients = Vec::new();
    for i in 0..3 {
        let (_, token) = user(&db, &format!("k{i}@x"), Role::Owner).await;
        clients.push(Client::new(&api.base, Some(&token)));
    }
    let (n, mut rng) = (trials(6), Rng::from_env());
    let started = std::time::Instant::now();
    let mut turns = Vec::new();
    let mut phases: BTreeMap<&str, usize> = BTreeMap::new();
    for t in 0..n {
        let c = &clients[t % clients.len()];
        let (id, sse) = c.turn(MESSAGES[t % MESSAGES.len()]).await;
        let id = Uuid::parse_str(&id).unwrap();
        // The fault injection: a random point of the turn (it takes about 0.3–1 s).
        tokio::time::sleep(Duration::from_millis(rng.below(1200))).await;
        let (owner, _) = phase(&db, id).await;
        let i = owner
            .and_then(|w| fleet.index_of(&w))
            .unwrap_or(rng.below(3) as usize);
        fleet.kill_and_replace(i).await;
        *phases.entry(phase(&db, id).await.1).or_default() += 1;
        turns.push((id, sse, t % clients.len()));
    }
    for (_, sse, c) in &turns {
        let evs = clients[*c].stream_all(sse, None, 120).await;
        assert!(evs.last().is_some_and(|e| e.is_terminal()), "{evs:?}");
    }
    let ids: Vec<Uuid> = turns.iter().map(|t| t.0).collect();
    let found = audit(&db, &fleet.rig, &ids).await;
    eprintln!(
        "scenario 1: {n} kills in {:.1} s, phases at kill {phases:?}, {found:?}",
        started.elapsed().as_secs_f64()
    );
    assert!(found.clean(), "{found:?}");
}

//! Fault scenario 7: load with ordering. The API (`paliadin-api serve`) and three
//! `paliadin-worker` processes drive one demo agent per user; every user's first turn is posted
//! at the same moment (a burst of brand-new users on a fresh API), then each user queues the
//! rest of their turns back to back. Checks: no 5xx (every post answered 200), every accepted
//! turn succeeds exactly once (`fault::audit`), per-user order and one-at-a-time (turn n+1
//! claimed, delivered and received by the agent only after turn n finished: `ordering`).
//!
//! Size: `100 × PALIADIN_FAULT_SCALE` users × `PALIADIN_FAULT_TRIALS` turns (default 3; the
//! full run in docs/reliability.md uses 20).

use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::{ApiProc, audit, scale, trials};
use paliadin_e2e::fleet::Fleet;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::ordering::{OrderReport, check_user};
use paliadin_shared::db::users::Role;
use serde_json::json;
use std::time::Instant;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_users_keep_their_order_one_turn_at_a_time_with_no_5xx() {
    let (users, per_user) = (100 * scale(), trials(3));
    let db = TestDb::new().await;
    let mut tokens = Vec::new();
    for u in 0..users {
        tokens.push(user(&db, &format!("load{u}@x"), Role::Owner).await.1);
    }
    let cap = (per_user + 1).to_string();
    // Pools sized to leave most of PostgreSQL's default 100 connections to the tests running
    // beside this one: the API's 12, and each worker's `2 × concurrency + 4` = 12 (48 in all).
    let api_env = [
        ("PALIADIN_MAX_QUEUED_PER_USER", cap.as_str()),
        ("PALIADIN_DB_POOL", "12"),
    ];
    let api = ApiProc::start_with(&db, &api_env).await;
    // A long lease: this scenario is about order under load, not takeovers.
    let env = [("PALIADIN_LEASE_SECS", "30"), ("PALIADIN_CONCURRENCY", "4")];
    let fleet = Fleet::start(&db.url, 3, &env);
    let clients: Vec<Client> = tokens
        .iter()
        .map(|t| Client::new(&api.base, Some(t)))
        .collect();
    let started = Instant::now();
    let burst = futures::future::join_all(clients.iter().map(|c| post(c, 0))).await;
    let burst_ms = started.elapsed().as_millis();
    let rest = clients.iter().zip(burst).map(|(c, first)| async move {
        let mut posted = vec![first];
        for k in 1..per_user {
            posted.push(post(c, k).await);
        }
        let last = posted.last().and_then(|p| p.1.clone());
        if let Some((_, sse)) = &last {
            let evs = c.stream_all(sse, None, 600).await;
            assert!(evs.last().is_some_and(|e| e.is_terminal()), "{evs:?}");
        }
        posted
    });
    let posted = futures::future::join_all(rest).await;
    let elapsed = started.elapsed().as_secs_f64();
    let refused: Vec<u16> = posted
        .iter()
        .flatten()
        .map(|p| p.0)
        .filter(|&s| s != 200)
        .collect();
    let per_user_ids: Vec<Vec<Uuid>> = posted
        .iter()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.1.as_ref().map(|t| t.0))
                .collect()
        })
        .collect();
    let ids: Vec<Uuid> = per_user_ids.iter().flatten().copied().collect();
    let found = audit(&db, &fleet.rig, &ids).await;
    let mut order = OrderReport::default();
    for turns in &per_user_ids {
        order.add(&check_user(&db, &fleet.rig, turns).await);
    }
    let (p50, p99): (f64, f64) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x), percentile_cont(0.99) WITHIN GROUP (ORDER BY x)
           FROM (SELECT EXTRACT(EPOCH FROM finished_at - claimed_at)::float8 AS x FROM turns) t",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    eprintln!(
        "scenario 7: {users} users × {per_user} turns = {} turns on 3 workers in {elapsed:.1} s \
         ({:.1} turns/s); burst of {users} first turns answered in {burst_ms} ms; {} non-200 \
         ({} 5xx); claim→finish p50 {p50:.2} s, p99 {p99:.2} s; {order:?}; {found:?}",
        ids.len(),
        ids.len() as f64 / elapsed,
        refused.len(),
        refused.iter().filter(|&&s| s >= 500).count(),
    );
    assert!(refused.is_empty(), "refused posts: {refused:?}");
    assert!(found.clean(), "{found:?}");
    assert!(order.clean(), "{order:?}");
}

/// Posts turn `k` of a user: its status and, when accepted, `(turn id, SSE path)`.
async fn post(c: &Client, k: usize) -> (u16, Option<(Uuid, String)>) {
    let body = json!({ "user_message": format!("/echo turn {k}") });
    let (status, v) = c.post("/api/paliadin/turn", &body).await;
    let accepted = (status == 200).then(|| {
        let id = Uuid::parse_str(v["turn_id"].as_str().expect("turn_id")).expect("uuid");
        (id, v["sse_url"].as_str().expect("sse_url").to_owned())
    });
    (status, accepted)
}

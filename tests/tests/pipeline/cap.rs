//! Pins the per-user cap of queued turns (`PALIADIN_MAX_QUEUED_PER_USER`) at its edges, with
//! real PostgreSQL and no worker (turns stay queued): concurrent retries of one
//! `client_turn_id` at the cap all get their one turn (idempotent), never 429; and a reset
//! counts toward the cap like any other turn (defects 10.7 c and d, docs/reliability.md).

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::system::start_api;
use paliadin_e2e::wait_until;
use paliadin_shared::db::users::Role;
use serde_json::json;

fn capped(max_queued: i64) -> ApiConfig {
    ApiConfig {
        max_queued_per_user: max_queued,
        reset_wait_secs: 2,
        ..ApiConfig::default()
    }
}

async fn turns_of(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM turns")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_of_one_client_turn_id_at_the_cap_get_their_turn() {
    let db = TestDb::new().await;
    let api = start_api(&db, capped(2)).await;
    let (owner, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    c.turn("one").await;
    // One slot left. Hold the user row lock (every enqueue takes it) so that all the retries
    // have passed the route's own look-up before the first of them inserts the turn.
    let mut hold = db.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(owner.id)
        .execute(&mut *hold)
        .await
        .unwrap();
    let retries = 4;
    let posts: Vec<_> = (0..retries)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                let body = json!({ "user_message": "two", "client_turn_id": "retry-1" });
                c.post("/api/paliadin/turn", &body).await
            })
        })
        .collect();
    wait_until(10, "every retry waits for the user lock", || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        waiting >= retries
    })
    .await;
    hold.commit().await.unwrap();
    let mut ids = Vec::new();
    for p in posts {
        let (status, body) = p.await.unwrap();
        assert_eq!(
            status, 200,
            "a retry of an accepted turn was refused: {body}"
        );
        ids.push(body["turn_id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "the retries got different turns: {ids:?}");
    assert_eq!(turns_of(&db).await, 2);
    // The cap still holds for a new turn, with its clear error.
    let (status, body) = c
        .post("/api/paliadin/turn", &json!({ "user_message": "three" }))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("too_many_queued"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_counts_toward_the_cap() {
    let db = TestDb::new().await;
    let api = start_api(&db, capped(2)).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    c.turn("one").await;
    c.turn("two").await;
    let (status, body) = c.post("/api/paliadin/reset", &json!({})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("too_many_queued")),
        "{body}"
    );
    assert_eq!(turns_of(&db).await, 2, "the refused reset left a turn");
    // Resets fill the cap as well: with one slot, a queued reset leaves none for a message.
    let db = TestDb::new().await;
    let api = start_api(&db, capped(1)).await;
    let (_, token) = user(&db, "o2@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let (status, _) = c.post("/api/paliadin/reset", &json!({})).await;
    assert_eq!(status, 202, "no worker runs the reset: it stays queued");
    let (status, body) = c
        .post("/api/paliadin/turn", &json!({ "user_message": "after" }))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("too_many_queued"))
    );
}

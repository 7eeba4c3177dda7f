//! Pins the API's per-user bounds (docs/security.md): at most `PALIADIN_MAX_STREAMS_PER_USER`
//! open SSE streams per user (more → `429 too_many_streams`, a slot frees when a stream
//! closes); history returns at most 100 turns and `PALIADIN_HISTORY_MAX_BYTES` of text;
//! `POST /api/paliadin/reset` holds its connection at most `PALIADIN_RESET_WAIT_SECS` (≤ 30)
//! and then answers `202` with the queued reset turn to follow.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::system::start_api;
use paliadin_e2e::wait_until;
use paliadin_shared::db::users::Role;
use serde_json::json;
use std::time::Duration;

async fn open(base: &str, token: &str, sse: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{base}{sse}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_streams_per_user_are_capped() {
    let db = TestDb::new().await;
    let config = ApiConfig {
        max_streams_per_user: 2,
        ..ApiConfig::default()
    };
    let api = start_api(&db, config).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let (_, other) = user(&db, "p@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    // No worker: the turn stays queued and its streams stay open.
    let (_, sse) = c.turn("wait").await;
    let a = open(&api.base, &token, &sse).await;
    let b = open(&api.base, &token, &sse).await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let third = open(&api.base, &token, &sse).await;
    assert_eq!(third.status(), 429, "a third stream over a cap of 2");
    let body: serde_json::Value = third.json().await.unwrap();
    assert_eq!(body["error"], "too_many_streams");
    // Another user is not affected.
    let (_, other_sse) = Client::new(&api.base, Some(&other)).turn("mine").await;
    assert_eq!(open(&api.base, &other, &other_sse).await.status(), 200);
    // Closing one frees its slot.
    drop(a);
    let (base, tok, url) = (api.base.clone(), token.clone(), sse.clone());
    let mut held = Vec::new();
    wait_until(10, "a slot freed by a closed stream", || {
        let (base, tok, url) = (base.clone(), tok.clone(), url.clone());
        async move { open(&base, &tok, &url).await.status() == 200 }
    })
    .await;
    held.push(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_bounded_in_turns_and_bytes() {
    let db = TestDb::new().await;
    let config = ApiConfig {
        history_max_bytes: 1000,
        ..ApiConfig::default()
    };
    let api = start_api(&db, config).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    for i in 0..5 {
        c.turn(&format!("{i}{}", "m".repeat(399))).await;
    }
    let (s, body) = c.get("/api/paliadin/turns?limit=500").await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_limit")));
    let (s, body) = c.get("/api/paliadin/turns?limit=100").await;
    assert_eq!(s, 200);
    let firsts: Vec<char> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["user_message"].as_str().unwrap().chars().next().unwrap())
        .collect();
    // 400 bytes each, 1000 bytes at most: the two newest, oldest first.
    assert_eq!(firsts, ['3', '4']);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_does_not_hold_the_connection() {
    assert!(
        ApiConfig::default().reset_wait_secs <= 30,
        "the default reset wait holds a connection too long"
    );
    let db = TestDb::new().await;
    let config = ApiConfig {
        reset_wait_secs: 1,
        ..ApiConfig::default()
    };
    let api = start_api(&db, config).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    // No worker runs it: the answer comes after the bound, with the turn to follow.
    let (s, body) = tokio::time::timeout(
        Duration::from_secs(10),
        c.post("/api/paliadin/reset", &json!({})),
    )
    .await
    .expect("reset answered within its bound");
    assert_eq!((s, body["state"].as_str()), (202, Some("queued")), "{body}");
    let sse = body["sse_url"].as_str().unwrap();
    let id = body["turn_id"].as_str().unwrap();
    assert_eq!(sse, format!("/api/paliadin/stream/{id}"));
    assert_eq!(open(&api.base, &token, sse).await.status(), 200);
}

//! Pins the ⚑ SSE contract: `meta → status → content → end` with ids 1..n; a finished turn
//! replays from every `Last-Event-ID` exactly; a live stream survives a reconnect of the API's
//! LISTEN connection with no gap and no duplicate; another user's turn is 404; history works.

use futures::StreamExt;
use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, concat_deltas, next_event, user};
use paliadin_e2e::scripted::ScriptedDriver;
use paliadin_e2e::system::{fast_runtime, start_api, start_worker};
use paliadin_e2e::wait_until;
use paliadin_shared::db::users::Role;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn a_finished_turn_replays_from_every_last_event_id() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let w = start_worker(&db, Arc::new(ScriptedDriver::default()), fast_runtime("w")).await;
    let (id, sse) = c.turn("hello *world*").await;
    let all = c.stream_all(&sse, None, 20).await;
    let kinds: Vec<&str> = all.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"meta"));
    assert_eq!(kinds.last(), Some(&"end"));
    for k in ["status", "activity", "content"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    let ids: Vec<i32> = all.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=all.len() as i32).collect::<Vec<_>>());
    assert_eq!(all[0].data["turn_id"], id.as_str());
    let end = &all.last().unwrap().data;
    assert_eq!(end["text"], ScriptedDriver::reply_for("hello *world*"));
    assert_eq!(concat_deltas(&all), end["text"].as_str().unwrap());
    assert!(
        end["html"].as_str().unwrap().contains("<em>world</em>"),
        "{end}"
    );
    assert_eq!(end["used_tools"], serde_json::json!(["scripted"]));
    let states: Vec<&str> = all
        .iter()
        .filter_map(|e| e.data["state"].as_str())
        .collect();
    assert_eq!(states, ["queued", "claimed", "delivered", "answering"]);
    w.stop().await;
    // Replay long after, with no worker running, from every position.
    for n in 0..=all.len() as i32 {
        let got = c.stream_all(&sse, Some(n), 10).await;
        assert_eq!(got, all[n as usize..].to_vec(), "resume after {n}");
    }
    // History lists it, newest last.
    let (s, h) = c.get("/api/paliadin/turns").await;
    assert_eq!(s, 200);
    assert_eq!(h[0]["turn_id"], id.as_str());
    assert_eq!(h[0]["state"], "succeeded");
    assert_eq!(h[0]["user_message"], "hello *world*");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_stream_survives_a_listener_reconnect() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let driver = Arc::new(ScriptedDriver::default());
    let w = start_worker(&db, driver.clone(), fast_runtime("w")).await;
    let (_, sse) = c.turn("gate:g wait for me").await;
    let (status, mut stream) = c.open_stream(&sse, None).await;
    assert_eq!(status, 200);
    let mut got = Vec::new();
    while !got
        .iter()
        .any(|e: &paliadin_e2e::http::SseEvent| e.event == "content")
    {
        got.push(next_event(&mut stream, 20).await);
    }
    // Kill the API's LISTEN connection; events committed while it is down must still arrive.
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE '%LISTEN%paliadin_events%'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(killed, [true]);
    driver.open("g");
    let hub = api.state.hub.clone();
    wait_until(20, "listener reconnected", || {
        let hub = hub.clone();
        async move { hub.connects() >= 2 }
    })
    .await;
    while !got.last().unwrap().is_terminal() {
        got.push(next_event(&mut stream, 20).await);
    }
    let ids: Vec<i32> = got.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        (1..=got.len() as i32).collect::<Vec<_>>(),
        "gap or duplicate"
    );
    assert_eq!(
        concat_deltas(&got),
        ScriptedDriver::reply_for("gate:g wait for me")
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap()
            .is_none(),
        "stream must end"
    );
    w.stop().await;
}

#[tokio::test]
async fn another_users_turn_is_not_found() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, alice) = user(&db, "a@x", Role::Owner).await;
    let (_, bob) = user(&db, "b@x", Role::Owner).await;
    let (_, admin) = user(&db, "admin@x", Role::Admin).await;
    let a = Client::new(&api.base, Some(&alice));
    let (id, sse) = a.turn("private").await;
    for other in [
        Client::new(&api.base, Some(&bob)),
        Client::new(&api.base, Some(&admin)),
        Client::new(&api.base, None),
        Client::new(&api.base, Some("pal_bogus")),
    ] {
        let (s, _) = other.open_stream(&sse, None).await;
        assert_eq!(s, 404);
        let (s, v) = other
            .post(
                &format!("/api/paliadin/turn/{id}/cancel"),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!((s, v["error"].as_str()), (404, Some("not_found")));
    }
    let (s, h) = Client::new(&api.base, Some(&bob))
        .get("/api/paliadin/turns")
        .await;
    assert_eq!((s, h), (200, serde_json::json!([])));
    assert_eq!(
        Client::new(&api.base, Some(&admin))
            .get("/api/paliadin/turns")
            .await
            .0,
        404
    );
    assert_eq!(
        Client::new(&api.base, None)
            .post(
                "/api/paliadin/turn",
                &serde_json::json!({"user_message":"x"})
            )
            .await
            .0,
        404
    );
}

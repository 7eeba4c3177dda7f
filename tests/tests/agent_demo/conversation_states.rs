//! Each conversation's state in `GET /api/paliadin/conversations` through the whole system
//! (real PostgreSQL, the real worker in its own tmux server, the demo agent): `running` while
//! its turn runs, `queued` while its turn waits (here for a free agent on a host that holds
//! one), `idle` once answered with its agent window live, `stopped` once that agent made room
//! for another or was stopped for idling (`PALIADIN_AGENT_IDLE_SECS`), and `last_failed` when
//! its newest turn failed; each names its agent window (`c-<32 hex>` on host `local`). The
//! states are read from the API until they change, with a bounded deadline.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use serde_json::{Value, json};

/// The list's entry for `conversation` (None while it is not listed).
async fn entry(c: &Client, conversation: &str) -> Option<Value> {
    let (s, v) = c.get("/api/paliadin/conversations?limit=100").await;
    assert_eq!(s, 200, "{v}");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["session_id"] == conversation)
        .cloned()
}

/// Waits until `conversation` is listed with `state` and satisfies `also`; returns the entry.
async fn wait_state(
    c: &Client,
    conversation: &str,
    state: &str,
    also: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = None;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(e) = entry(c, conversation).await {
            if e["state"] == state && also(&e) {
                return e;
            }
            last = Some(e);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {conversation} to be {state}; last: {last:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn window_of(conversation: &str) -> String {
    format!("c-{}", conversation.replace('-', ""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_tells_running_queued_idle_and_stopped_conversations() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@states", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    // One live agent at a time: a second conversation's turn waits for the first one's.
    let _worker = rig.worker_with(
        &db.url,
        "states-w1",
        &[
            ("PALIADIN_MAX_LIVE_AGENTS", "1"),
            ("PALIADIN_AGENT_IDLE_SECS", "6"),
        ],
    );
    let a = "0badcafe-0000-4000-8000-00000000000a";
    let b = "0badcafe-0000-4000-8000-00000000000b";

    // A's turn runs (and never answers by itself).
    let (s, ta) = c
        .post(
            "/api/paliadin/turn",
            &json!({ "user_message": "/hang", "session_id": a }),
        )
        .await;
    assert_eq!(s, 200, "{ta}");
    let e = wait_state(&c, a, "running", |_| true).await;
    assert_eq!(e["window"]["name"], window_of(a), "{e}");
    assert_eq!(e["window"]["host"], "local", "{e}");
    assert_eq!(e["last_failed"], false, "{e}");

    // B's turn waits for a free agent: queued, while A still runs.
    let (s, tb) = c
        .post(
            "/api/paliadin/turn",
            &json!({ "user_message": "/echo bee", "session_id": b }),
        )
        .await;
    assert_eq!(s, 200, "{tb}");
    wait_state(&c, b, "queued", |_| true).await;
    assert_eq!(entry(&c, a).await.unwrap()["state"], "running");

    // A is cancelled: its agent makes room for B's turn, which answers; B's agent is live.
    let (s, v) = c
        .post(
            &format!(
                "/api/paliadin/turn/{}/cancel",
                ta["turn_id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let end = c
        .stream_all(tb["sse_url"].as_str().unwrap(), None, 60)
        .await;
    assert_eq!(end.last().unwrap().event, "end", "{end:?}");
    let e = wait_state(&c, b, "idle", |e| e["window"]["live"] == true).await;
    assert_eq!(e["window"]["name"], window_of(b), "{e}");
    // A's agent was stopped to make room: its next turn resumes it.
    let e = wait_state(&c, a, "stopped", |_| true).await;
    assert_eq!(e["window"]["live"], false, "{e}");
    assert_eq!(
        e["last_failed"], false,
        "a cancelled turn did not fail: {e}"
    );

    // B's agent idles past PALIADIN_AGENT_IDLE_SECS: stopped.
    wait_state(&c, b, "stopped", |_| true).await;

    // B's next turn resumes it and fails: idle again (its agent is live), its last turn failed.
    let (s, tf) = c
        .post(
            "/api/paliadin/turn",
            &json!({ "user_message": "/fail overloaded the model is busy", "session_id": b }),
        )
        .await;
    assert_eq!(s, 200, "{tf}");
    let evs = c
        .stream_all(tf["sse_url"].as_str().unwrap(), None, 60)
        .await;
    assert_eq!(evs.last().unwrap().event, "error", "{evs:?}");
    let e = wait_state(&c, b, "idle", |e| e["last_failed"] == true).await;
    assert_eq!(e["window"]["live"], true, "{e}");
}

//! A remote host's agents in the conversations list, over real SSH: after each idle sweep the
//! worker asks the host agent which conversation windows are live (`agents`), so a conversation
//! answered there is `idle` with its window on that host live, and `stopped` once the host agent
//! stopped its agent for idling (the host agent's own `PALIADIN_AGENT_IDLE_SECS`); the admin
//! stats count the host's live agents from the same listing. The same on the worker's own host:
//! `agent_demo::conversation_states`.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::sshd::{SshHost, wait_host, worker};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use serde_json::{Value, json};

/// Waits until `conversation` is listed in `state` with its window's `live`; returns the entry.
async fn wait_state(c: &Client, conversation: &str, state: &str, live: Value) -> Value {
    let mut last = Value::Null;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (s, v) = c.get("/api/paliadin/conversations").await;
        assert_eq!(s, 200, "{v}");
        if let Some(e) = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["session_id"] == conversation)
        {
            if e["state"] == state && e["window"]["live"] == live {
                return e.clone();
            }
            last = e.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {conversation} to be {state}; last: {last}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_conversation_is_idle_then_stopped_as_its_host_agent_says() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@ssh-states", Role::Owner).await;
    let c = &Client::new(&api.base, Some(&token));
    let h1 = SshHost::start_on(
        TmuxRig::new(),
        "h1",
        &[("PALIADIN_AGENT_IDLE_SECS", "3".into())],
    );
    // The worker's own idle limit only sets how often it sweeps (and asks the host): every second.
    let _w = worker(
        &db.url,
        "ssh-states",
        &h1.entry(),
        &[("PALIADIN_AGENT_IDLE_SECS", "2")],
    );
    wait_host(&db, "h1", true, 20).await;

    let conversation = "0badcafe-0000-4000-8000-0000000000c1";
    let body = json!({"user_message": "/echo over ssh", "session_id": conversation});
    let (s, v) = c.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["window"]["host"], "h1", "{v}");
    let evs = c.stream_all(v["sse_url"].as_str().unwrap(), None, 60).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");

    let e = wait_state(c, conversation, "idle", json!(true)).await;
    assert_eq!(
        e["window"],
        json!({"name": "c-0badcafe0000400080000000000000c1", "host": "h1", "live": true})
    );
    let (_, admin_token) = user(&db, "admin@ssh-states", Role::Admin).await;
    let admin = &Client::new(&api.base, Some(&admin_token));
    let agents = live_on_h1(admin, 1).await;
    // With the limit the host agent applies (from that host's memory by default).
    assert!(agents["max"].as_i64().is_some_and(|m| m > 0), "{agents}");
    wait_state(c, conversation, "stopped", json!(false)).await;
    live_on_h1(admin, 0).await;
}

/// Waits until the admin stats count `want` live agents on host `h1`; its `agents`.
async fn live_on_h1(admin: &Client, want: i64) -> Value {
    let mut last = Value::Null;
    let seen = async {
        loop {
            let (status, s) = admin.get("/api/admin/paliadin/stats").await;
            assert_eq!(status, 200, "{s}");
            last = s["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["name"] == "h1")
                .map(|h| h["agents"].clone())
                .unwrap_or(Value::Null);
            if last["live"] == want {
                return last.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    match tokio::time::timeout(std::time::Duration::from_secs(30), seen).await {
        Ok(agents) => agents,
        Err(_) => panic!("h1's live agents: want {want}, the stats show {last}"),
    }
}

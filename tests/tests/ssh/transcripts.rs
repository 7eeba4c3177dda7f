//! A conversation moves to a host that never saw it and its agent there remembers it: the
//! transcript (the demo agent's conversation log, each host with its own state directory) is
//! copied to PostgreSQL after each turn on h1 and, once h1 is down and the owner moved
//! (`PALIADIN_FAILOVER=move`), written back on h2 through its host agent before the resume.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::sshd::{SshHost, wait_host, worker};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use serde_json::json;
use std::path::PathBuf;

fn host(name: &str) -> (SshHost, PathBuf) {
    let rig = TmuxRig::new();
    let state = rig.spool.parent().unwrap().join("demo-state");
    let h = SshHost::start_on(
        rig,
        name,
        &[("PALIADIN_DEMO_STATE_DIR", state.display().to_string())],
    );
    (h, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_fails_over_to_a_host_that_never_saw_it_and_is_remembered() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@moves", Role::Owner).await;
    let ((mut h1, _), (h2, state2)) = (host("h1"), host("h2"));
    let hosts = format!("{},{}", h1.entry(), h2.entry());
    let _w = worker(&db.url, "ssh-ts", &hosts, &[("PALIADIN_FAILOVER", "move")]);
    wait_host(&db, "h1", true, 20).await;
    wait_host(&db, "h2", true, 20).await;
    let c = Client::new(&api.base, Some(&token));
    let say = |conv: Option<String>, m: &str| {
        let c = &c;
        let mut body = json!({ "user_message": m });
        if let Some(id) = conv {
            body["session_id"] = json!(id);
        }
        async move {
            let (s, v) = c.post("/api/paliadin/turn", &body).await;
            assert_eq!(s, 200, "{v}");
            let evs = c.stream_all(v["sse_url"].as_str().unwrap(), None, 60).await;
            (evs, v["session_id"].as_str().unwrap().to_owned())
        }
    };
    let (evs, conv) = say(None, "my name is Ada").await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    let (evs, _) = say(Some(conv.clone()), "/echo still on h1").await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    let file2 = state2.join(format!("{conv}.jsonl"));
    assert!(!file2.exists(), "h2 never saw the conversation");

    h1.stop();
    wait_host(&db, "h1", false, 20).await;
    // The first turn finds h1 down and fails; the next, queued behind it, moves to h2.
    let (s, v) = c
        .post(
            "/api/paliadin/turn",
            &json!({"user_message": "/echo into the void", "session_id": conv}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (evs, _) = say(Some(conv.clone()), "/recall").await;
    let end = evs.last().unwrap();
    assert_eq!(end.event, "end", "{evs:?}");
    assert!(
        evs.iter().any(|e| e.data["host"] == "h2"),
        "the turn ran on h2: {evs:?}"
    );
    let recalled = end.data["text"].as_str().unwrap_or_default();
    assert!(recalled.contains("my name is Ada"), "{recalled}");
    assert!(recalled.contains("still on h1"), "{recalled}");
    assert!(file2.exists(), "restored on h2");
}

//! Pins `GET /api/paliadin/conversations` with the real API and a worker (scripted driver): the
//! owner's conversations newest first with a title, last activity, state (running, waiting,
//! queued, idle: a scripted host does not list its agents, so never stopped), whether the last
//! turn failed, the agent window and turn count; paging by cursor; search over their own messages and replies
//! (case-insensitive, `%` taken literally); nothing of another user's; clear 400s; 404 for
//! anyone who is not an owner.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, SseEvent, next_event, user};
use paliadin_e2e::scripted::ScriptedDriver;
use paliadin_e2e::system::{fast_runtime, start_api, start_worker};
use paliadin_shared::db::users::Role;
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

/// Posts a message into conversation `session` and waits for its terminal event.
async fn said(c: &Client, session: Uuid, message: &str) -> Vec<SseEvent> {
    let body = json!({"user_message": message, "session_id": session.to_string()});
    let (s, v) = c.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 200, "{v}");
    c.stream_all(v["sse_url"].as_str().unwrap(), None, 30).await
}

fn titles(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_lists_pages_and_searches_their_conversations() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let _worker = start_worker(&db, Arc::new(ScriptedDriver::default()), fast_runtime("w")).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let (_, other) = user(&db, "p@x", Role::Owner).await;
    let c = &Client::new(&api.base, Some(&token));
    let (a, b, f) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    said(c, a, "first about Apples").await;
    said(c, a, "second in the same one").await;
    said(c, b, "banana bread recipe\nwith more lines").await;
    assert_eq!(
        said(c, f, "this will fail").await.last().unwrap().event,
        "error"
    );
    let them = &Client::new(&api.base, Some(&other));
    said(them, Uuid::now_v7(), "apples are my secret").await;

    let (s, page) = c.get("/api/paliadin/conversations").await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(
        titles(&page),
        [
            "this will fail",
            "banana bread recipe",
            "first about Apples"
        ]
    );
    let items = page["items"].as_array().unwrap();
    assert_eq!(
        (&items[0]["state"], &items[0]["last_failed"]),
        (&json!("idle"), &json!(true)),
        "{page}"
    );
    assert_eq!(
        (items[2]["state"].as_str(), items[2]["turns"].as_i64()),
        (Some("idle"), Some(2))
    );
    assert_eq!(items[2]["last_failed"], false);
    // Its agent's window, on a host that does not say whether the agent is live.
    assert_eq!(
        items[2]["window"],
        json!({"name": format!("c-{}", a.simple()), "host": "local", "live": null})
    );
    assert_eq!(items[2]["session_id"], a.to_string());
    assert_eq!(page["next_before"], Value::Null);

    // Paging: two, then the rest.
    let (_, first) = c.get("/api/paliadin/conversations?limit=2").await;
    assert_eq!(titles(&first).len(), 2);
    let cursor = first["next_before"].as_str().expect("a next page");
    let q = format!(
        "/api/paliadin/conversations?limit=2&before={}",
        urlencode(cursor)
    );
    let (s, second) = c.get(&q).await;
    assert_eq!(s, 200, "{second}");
    assert_eq!(titles(&second), ["first about Apples"]);
    assert_eq!(second["next_before"], Value::Null);

    // Search: case-insensitive over messages and replies; only the caller's; literal `%`.
    let (_, found) = c.get("/api/paliadin/conversations?q=APPLES").await;
    assert_eq!(titles(&found), ["first about Apples"]);
    let (_, found) = c
        .get("/api/paliadin/conversations?q=reply%20to%3A%20banana")
        .await;
    assert_eq!(
        titles(&found),
        ["banana bread recipe"],
        "replies are searched too"
    );
    let (_, found) = c.get("/api/paliadin/conversations?q=secret").await;
    assert_eq!(titles(&found), Vec::<&str>::new());
    let (_, found) = c.get("/api/paliadin/conversations?q=%25").await;
    assert_eq!(titles(&found), Vec::<&str>::new());

    for (bad, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("before=yesterday", "invalid_cursor"),
        ("q=%07", "invalid_query"),
    ] {
        let (s, v) = c.get(&format!("/api/paliadin/conversations?{bad}")).await;
        assert_eq!((s, v["error"].as_str()), (400, Some(code)), "{bad}: {v}");
    }
    let (s, _) = Client::new(&api.base, None)
        .get("/api/paliadin/conversations")
        .await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_and_waiting_conversations_say_so() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let _worker = start_worker(&db, Arc::new(ScriptedDriver::default()), fast_runtime("w")).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = &Client::new(&api.base, Some(&token));
    let (run, wait) = (Uuid::now_v7(), Uuid::now_v7());
    // The request holds the first conversation's turn; the second conversation's turn runs
    // beside it (`hang`, once its `delivered` status came).
    let body = json!({"user_message": "ask:Bash now", "session_id": wait.to_string()});
    let (_, v) = c.post("/api/paliadin/turn", &body).await;
    let (_, mut stream) = c.open_stream(v["sse_url"].as_str().unwrap(), None).await;
    while next_event(&mut stream, 30).await.event != "permission" {}
    let body = json!({"user_message": "hang on", "session_id": run.to_string()});
    let (s, v) = c.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 200, "{v}");
    let (_, mut hanging) = c.open_stream(v["sse_url"].as_str().unwrap(), None).await;
    while next_event(&mut hanging, 30).await.data["state"] != "delivered" {}
    let (_, page) = c.get("/api/paliadin/conversations").await;
    let states: Vec<(&str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["title"].as_str().unwrap(), i["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [("hang on", "running"), ("ask:Bash now", "waiting")]
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

//! Pins which agent answered each turn, through the HTTP API with a worker (scripted driver,
//! whose `agent:<kind>` word plays the driver's `PALIADIN_AGENT`): the `end` event and the
//! owner's history name it, the admin's turn list and one turn carry it, and the admin stats
//! count the window's turns per agent; a failed turn, and one whose driver named no agent,
//! name none.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, SseEvent, user};
use paliadin_e2e::scripted::ScriptedDriver;
use paliadin_e2e::system::{fast_runtime, start_api, start_worker};
use paliadin_shared::db::users::Role;
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

/// Posts `message` into conversation `session`; its turn id and events to the terminal one.
async fn said(c: &Client, session: Uuid, message: &str) -> (String, Vec<SseEvent>) {
    let body = json!({"user_message": message, "session_id": session.to_string()});
    let (s, v) = c.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 200, "{v}");
    let events = c.stream_all(v["sse_url"].as_str().unwrap(), None, 30).await;
    (v["turn_id"].as_str().unwrap().to_owned(), events)
}

fn by_id<'a>(items: &'a Value, key: &str, id: &str) -> &'a Value {
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t[key] == id)
        .unwrap_or_else(|| panic!("{id} in {items}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_turn_names_the_agent_that_answered_it_for_the_owner_and_the_admin() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let _worker = start_worker(&db, Arc::new(ScriptedDriver::default()), fast_runtime("w")).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let (_, admin) = user(&db, "admin@x", Role::Admin).await;
    let c = &Client::new(&api.base, Some(&token));
    let session = Uuid::now_v7();
    let (codex, ev) = said(c, session, "agent:codex hello").await;
    let end = ev.last().unwrap();
    assert_eq!(
        (end.event.as_str(), &end.data["agent"]),
        ("end", &json!("codex")),
        "{end:?}"
    );
    let (claude, ev) = said(c, session, "agent:claude and you").await;
    assert_eq!(ev.last().unwrap().data["agent"], "claude");
    let (codex2, _) = said(c, session, "agent:codex again").await;
    let (unnamed, ev) = said(c, session, "no agent named").await;
    assert_eq!(ev.last().unwrap().data["agent"], Value::Null);
    let (failed, ev) = said(c, session, "agent:codex fail").await;
    assert_eq!(ev.last().unwrap().event, "error");

    let (s, history) = c
        .get(&format!("/api/paliadin/turns?session_id={session}"))
        .await;
    assert_eq!(s, 200, "{history}");
    let agent = |id: &str| by_id(&history, "turn_id", id).get("agent").cloned();
    assert_eq!(agent(&codex), Some(json!("codex")));
    assert_eq!(agent(&claude), Some(json!("claude")));
    assert_eq!(agent(&codex2), Some(json!("codex")));
    assert_eq!(agent(&unnamed), None, "no field when no agent is known");
    assert_eq!(agent(&failed), None, "no agent answered a failed turn");

    let a = &Client::new(&api.base, Some(&admin));
    let (s, turns) = a.get("/api/admin/paliadin/turns").await;
    assert_eq!(s, 200, "{turns}");
    assert_eq!(by_id(&turns, "id", &codex)["agent"], "codex");
    assert_eq!(by_id(&turns, "id", &claude)["agent"], "claude");
    assert_eq!(by_id(&turns, "id", &unnamed)["agent"], Value::Null);
    let (s, one) = a.get(&format!("/api/admin/paliadin/turns/{claude}")).await;
    assert_eq!(s, 200, "{one}");
    assert_eq!(one["turn"]["agent"], "claude", "{one}");

    let (s, stats) = a.get("/api/admin/paliadin/stats?window=1h").await;
    assert_eq!(s, 200, "{stats}");
    assert_eq!(
        stats["agents"],
        json!([{"name": "codex", "count": 2}, {"name": "claude", "count": 1}]),
        "per agent, most frequent first; unnamed and failed turns not counted"
    );
}

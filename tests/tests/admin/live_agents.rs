//! Pins the live agents of a tmux host in the admin stats and on the dashboard, with a worker
//! process and the demo agent (`docs/operations.md`, "Live agents"): an agent's start raises the
//! host's live count; on a full host (`PALIADIN_MAX_LIVE_AGENTS=1`) the least recently used
//! agent is stopped *for room* and a conversation that comes back is *resumed*; a later worker
//! with `PALIADIN_AGENT_IDLE_SECS=1` stops the idle agent (reason *idle*, live count 0) and
//! the counts of the first worker are still there: they live in the `hosts` row, not in a
//! worker's memory. The dashboard shows the same figures (headless Chromium, when installed).

use paliadin_api::config::ApiConfig;
use paliadin_e2e::browser::{Browser, enabled};
use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::signal;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::{TmuxRig, session_of};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use serde_json::{Value, json};
use std::time::Duration;

/// The `agents` of host `local` in the admin stats.
async fn agents(admin: &Client) -> Value {
    let (status, s) = admin.get("/api/admin/paliadin/stats").await;
    assert_eq!(status, 200, "{s}");
    s["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "local")
        .map(|h| h["agents"].clone())
        .unwrap_or(Value::Null)
}

/// Waits (workers write with their heartbeat, every 5 s) until the stats of host `local` show
/// every `(json pointer, value)` of `want`.
async fn until_agents(admin: &Client, what: &str, want: &[(&str, Value)]) -> Value {
    let mut last = Value::Null;
    let seen = async {
        loop {
            last = agents(admin).await;
            if want.iter().all(|(p, v)| last.pointer(p) == Some(v)) {
                return last.clone();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    match tokio::time::timeout(Duration::from_secs(30), seen).await {
        Ok(a) => a,
        Err(_) => panic!("{what}: want {want:?}, the stats show {last}"),
    }
}

async fn say(c: &Client, message: &str) {
    let (_, sse) = c.turn(message).await;
    let evs = c.stream_all(&sse, None, 60).await;
    assert_eq!(evs.last().unwrap().event, "end", "{message}: {evs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_sees_live_agents_their_stops_by_reason_and_resumes() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, admin_token) = user(&db, "admin@live", Role::Admin).await;
    let admin = Client::new(&api.base, Some(&admin_token));
    let (ada_row, a) = user(&db, "ada@live", Role::Owner).await;
    let (_, b) = user(&db, "bob@live", Role::Owner).await;
    let (ada, bob) = (
        Client::new(&api.base, Some(&a)),
        Client::new(&api.base, Some(&b)),
    );
    let rig = TmuxRig::new();
    let mut w1 = rig.worker_with(&db.url, "agents-w1", &[("PALIADIN_MAX_LIVE_AGENTS", "1")]);

    // Counted by the worker once it swept its host: no agent yet, at most one.
    until_agents(
        &admin,
        "the first count",
        &[("/live", json!(0)), ("/max", json!(1))],
    )
    .await;

    say(&ada, "my name is Ada").await;
    until_agents(
        &admin,
        "Ada's agent started",
        &[("/live", json!(1)), ("/starts", json!(1))],
    )
    .await;

    // Bob needs the only place: Ada's idle agent is stopped for room.
    say(&bob, "my name is Bob").await;
    until_agents(
        &admin,
        "Ada's agent stopped for Bob's",
        &[
            ("/live", json!(1)),
            ("/starts", json!(2)),
            ("/stops/capacity", json!(1)),
            ("/resumes", json!(0)),
        ],
    )
    .await;

    // Ada comes back: her conversation is resumed in a new agent, Bob's makes room.
    say(&ada, "/recall").await;
    let seen = until_agents(
        &admin,
        "Ada's conversation resumed",
        &[
            ("/live", json!(1)),
            ("/resumes", json!(1)),
            ("/stops/capacity", json!(2)),
        ],
    )
    .await;
    assert_eq!(seen["stops"]["idle"], 0, "{seen}");
    assert_eq!(seen["deferred"], 0, "no turn had to wait: {seen}");

    if enabled("the_admin_sees_live_agents_their_stops_by_reason_and_resumes") {
        let b = Browser::start("admin-agents").await;
        b.goto(&format!("{}/login", api.base)).await;
        b.type_into("#token", &admin_token).await;
        b.click("button[type=submit]").await;
        let cell = |cls: &str| {
            format!(
                "return document.querySelector('#hosts tr[data-host=local] .agents-{cls}')?.textContent"
            )
        };
        b.until(
            15,
            "the host's live agents",
            &format!("{} === '1 / 1'", cell("live")),
        )
        .await;
        assert_eq!(b.js(&cell("stops-capacity")).await, json!("2"));
        assert_eq!(b.js(&cell("resumes")).await, json!("1"));
        assert_eq!(b.js(&cell("stops-idle")).await, json!("0"));
        assert_eq!(
            b.js("return document.getElementById('t-agents').textContent")
                .await,
            json!("1 / 1")
        );
        b.js("document.getElementById('hosts').scrollIntoView({ block: 'center' })")
            .await;
        b.screenshot("hosts").await;
        b.close().await;
    }

    // The first worker goes; one with an idle limit of a second stops Ada's agent as idle. The
    // first worker's counts stay: they are the host's, in the database.
    signal(&w1, "-TERM");
    tokio::time::timeout(Duration::from_secs(30), w1.wait())
        .await
        .expect("the first worker stops")
        .unwrap();
    let _w2 = rig.worker_with(
        &db.url,
        "agents-w2",
        &[
            ("PALIADIN_MAX_LIVE_AGENTS", "1"),
            ("PALIADIN_AGENT_IDLE_SECS", "1"),
        ],
    );
    let seen = until_agents(
        &admin,
        "Ada's agent stopped as idle",
        &[("/live", json!(0)), ("/stops/idle", json!(1))],
    )
    .await;
    assert_eq!(
        (
            &seen["stops"]["capacity"],
            &seen["starts"],
            &seen["resumes"]
        ),
        (&json!(2), &json!(2), &json!(1)),
        "{seen}"
    );
    assert!(
        !rig.has_session(&session_of(&ada_row.id)),
        "Ada's agent is gone"
    );
}

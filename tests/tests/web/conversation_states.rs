//! Each conversation's state and agent window on the chat page, in headless Chromium with the
//! real API, a worker process in its own tmux server and the demo agent: the ☰ panel says in
//! words which conversation is running and which one's agent was stopped (idle past
//! `PALIADIN_AGENT_IDLE_SECS`) and names each one's window; a message sent in the other
//! conversation while the first one's turn runs is answered; each reply says which agent window
//! answered it, live and from the history; the panel and the thread pass axe-core.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::axe::{self, Allowed};
use paliadin_e2e::browser::{Browser, R, enabled};
use paliadin_e2e::db::TestDb;
use paliadin_e2e::demo_site::{DemoSite, send_text};
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use serde_json::json;

const ALLOW: &[Allowed] = &[];

/// The drawer's item of `conversation` as `[state word, data-state, failed text, window text]`.
fn item(conversation: &str) -> String {
    format!(
        "const b = document.querySelector('#convos-list .convo-button[data-session=\"{conversation}\"]'); \
         if (!b) return null; \
         const s = b.querySelector('.convo-state'), f = b.querySelector('.convo-failed'), \
               w = b.querySelector('.convo-window'); \
         return [s.textContent, s.dataset.state, f ? f.textContent : null, w ? w.textContent : null]"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_panel_shows_each_conversations_state_and_each_reply_its_agent_window() {
    let src = axe::source();
    if !enabled("the_panel_shows_each_conversations_state_and_each_reply_its_agent_window") {
        return;
    }
    // The demo site, with agents stopped after idling for 8 seconds.
    let site = {
        let db = TestDb::new().await;
        let api = start_api(&db, ApiConfig::default()).await;
        let (_, owner_token) = user(&db, "owner@states", Role::Owner).await;
        let (_, admin_token) = user(&db, "admin@states", Role::Admin).await;
        let rig = TmuxRig::new();
        let worker = rig.worker_with(&db.url, "states-w1", &[("PALIADIN_AGENT_IDLE_SECS", "8")]);
        DemoSite {
            owner_token,
            admin_token,
            worker,
            rig,
            api,
            db,
        }
    };
    let c = Client::new(&site.api.base, Some(&site.owner_token));
    let a = "0badcafe-0000-4000-8000-0000000000aa";
    let b = "0badcafe-0000-4000-8000-0000000000bb";
    let (wa, wb) = (
        "Window c-0badcafe… on local",
        "Agent window c-0badcafe… on local",
    );
    // B is answered first; then A's turn runs until it is cancelled (and is the latest).
    let (s, v) = c
        .post(
            "/api/paliadin/turn",
            &json!({ "user_message": "/echo bee one", "session_id": b }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let evs = c.stream_all(v["sse_url"].as_str().unwrap(), None, 60).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    let (s, hang) = c
        .post(
            "/api/paliadin/turn",
            &json!({ "user_message": "/hang", "session_id": a }),
        )
        .await;
    assert_eq!(s, 200, "{hang}");

    // The page opens on A (the latest); the panel says A runs and B's agent was stopped.
    let br = Browser::start("conversation-states").await;
    site.sign_in(&br, &site.owner_token, "/paliadin").await;
    br.click("#convos-toggle").await;
    let seen = br
        .until(
            30,
            "A running and B stopped in the panel",
            &format!(
                "const a = (() => {{ {} }})(), b = (() => {{ {} }})(); \
                 return a && b && a[1] === 'running' && b[1] === 'stopped' && [a, b]",
                item(a),
                item(b)
            ),
        )
        .await;
    assert_eq!(
        seen,
        json!([
            ["Running", "running", null, wa],
            ["Stopped", "stopped", null, wa]
        ])
    );
    br.screenshot("panel").await;
    let mut found = Vec::new();
    axe::scan_all(&br, &src, "the panel with its states", ALLOW, &mut found).await;

    // B is chosen: its reply from the history names its window.
    br.click(&format!(".convo-button[data-session=\"{b}\"]"))
        .await;
    let lines = br
        .until(
            15,
            "B's reply and its window",
            "const l = [...document.querySelectorAll('#log .agent-window')]; \
             return l.length === 1 && l.map(p => [p.textContent, p.dataset.window, p.dataset.host])",
        )
        .await;
    let wname = format!("c-{}", b.replace('-', ""));
    assert_eq!(lines, json!([[wb, wname, "local"]]));

    // A message in B while A's turn still runs: answered, and its window named as it ends.
    send_text(&br, "/echo bee two").await;
    let live = br
        .until(
            60,
            "B's second reply and its window",
            &format!(
                "const r = {R}; const last = r.length === 2 && r[1]; \
                 const p = last && last.querySelector('.body.rendered') && last.querySelector('.agent-window'); \
                 return p && [last.querySelector('.body.rendered').textContent.includes('bee two'), p.textContent]"
            ),
        )
        .await;
    assert_eq!(live, json!([true, wb]));
    br.click("#convos-toggle").await;
    let seen = br
        .until(
            30,
            "A still running and B idle",
            &format!(
                "const a = (() => {{ {} }})(), b = (() => {{ {} }})(); \
                 return a && b && a[1] === 'running' && b[1] === 'idle' && [a[0], b[0]]",
                item(a),
                item(b)
            ),
        )
        .await;
    assert_eq!(seen, json!(["Running", "Idle"]));
    br.screenshot("panel-after").await;
    axe::scan_all(&br, &src, "the panel after B answered", ALLOW, &mut found).await;
    br.click("#convos-close").await;
    axe::scan_all(&br, &src, "a thread with agent windows", ALLOW, &mut found).await;
    assert!(found.is_empty(), "{}", found.join("\n"));

    let (s, v) = c
        .post(
            &format!(
                "/api/paliadin/turn/{}/cancel",
                hang["turn_id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    br.close().await;
}

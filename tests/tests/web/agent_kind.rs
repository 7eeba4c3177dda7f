//! Which agent wrote each reply, in headless Chromium with the real API, a worker process and
//! the demo agent: the reply says "Answered by demo agent" as its `end` event arrives and again
//! when the page is loaded from the history, and the page passes axe-core.

use paliadin_e2e::axe::{self, Allowed};
use paliadin_e2e::browser::{Browser, R, enabled};
use paliadin_e2e::demo_site::{DemoSite, send_text};

const ALLOW: &[Allowed] = &[];

/// The text of every reply's "answered by" line, oldest first.
const LINES: &str =
    "return [...document.querySelectorAll('#log .answered-by')].map(p => p.textContent)";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_reply_says_which_agent_answered_it_live_and_from_the_history() {
    let src = axe::source();
    if !enabled("each_reply_says_which_agent_answered_it_live_and_from_the_history") {
        return;
    }
    let site = DemoSite::start("agent-kind-w1").await;
    let b = Browser::start("agent-kind").await;
    site.sign_in(&b, &site.owner_token, "/paliadin").await;
    send_text(&b, "/echo which agent").await;
    let live = b
        .until(
            30,
            "the reply and its agent",
            &format!(
                "const r = {R}; const last = r.length && r[r.length - 1]; \
                 const p = last && last.querySelector('.body.rendered') && last.querySelector('.answered-by'); \
                 return p && [p.textContent, p.dataset.agent]"
            ),
        )
        .await;
    assert_eq!(
        live,
        serde_json::json!(["Answered by demo agent", "demo"]),
        "named as the end event arrives"
    );
    b.goto(&site.url("/paliadin")).await;
    let loaded = b
        .until(
            15,
            "the history's agent line",
            &format!("const l = (() => {{ {LINES} }})(); return l.length === 1 && l"),
        )
        .await;
    assert_eq!(loaded, serde_json::json!(["Answered by demo agent"]));
    let mut found = Vec::new();
    axe::scan_all(&b, &src, "a reply with its agent", ALLOW, &mut found).await;
    assert!(found.is_empty(), "{}", found.join("\n"));
    b.close().await;
}

//! The usage line under each reply and the conversation's total and context fill in the thread
//! header, in headless Chromium with the real API, a worker process and the demo agent: after a
//! turn's usage is recorded (as the worker records Claude's; the demo agent keeps no
//! transcript, `agent_claude/usage.rs` covers reading it), the page shows "N tokens · $cost" under
//! the reply, opens it to the breakdown, and shows the conversation's total and context fill;
//! a model without a price shows tokens only; the states pass axe-core.

use paliadin_e2e::axe::{self, Allowed};
use paliadin_e2e::browser::{Browser, R, enabled};
use paliadin_e2e::demo_site::{DemoSite, send_text};
use paliadin_shared::domain::usage::{TurnUsage, Usage};
use uuid::Uuid;

const ALLOW: &[Allowed] = &[];

/// Records usage for the two turns, oldest first: the first priced, the second
/// of a model without a price.
async fn record(site: &DemoSite) -> Vec<Uuid> {
    let rows: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(
        "SELECT id, user_id, session_id FROM turns WHERE kind = 'message' ORDER BY queued_at",
    )
    .fetch_all(&site.db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "two turns");
    let usages = [
        Usage {
            model: "claude-sonnet-4-5".into(),
            input: 1200,
            output: 345,
            cache_read: 20_000,
            cache_creation: 1_000,
            context: 22_200,
            cost_usd: Some(0.0171),
            context_window: Some(200_000),
        },
        Usage {
            model: "local-model".into(),
            input: 800,
            output: 55,
            cache_read: 30_000,
            cache_creation: 0,
            context: 50_000,
            cost_usd: None,
            context_window: Some(200_000),
        },
    ];
    for ((turn, user, session), usage) in rows.iter().zip(usages) {
        let t = TurnUsage {
            turn_id: *turn,
            usage,
        };
        paliadin_shared::db::usage::record(&site.db.pool, *user, *session, &[t])
            .await
            .unwrap();
    }
    rows.into_iter().map(|r| r.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_reply_shows_its_usage_and_the_header_the_total_and_context_fill() {
    let src = axe::source();
    if !enabled("each_reply_shows_its_usage_and_the_header_the_total_and_context_fill") {
        return;
    }
    let site = DemoSite::start("usage-w1").await;
    let b = Browser::start("usage").await;
    site.sign_in(&b, &site.owner_token, "/paliadin").await;
    for text in ["/echo first", "/echo second"] {
        send_text(&b, text).await;
        let done = format!(
            "const r = {R}; return r.length && r[r.length - 1].querySelector('.body.rendered') && r[r.length - 1].textContent.includes('{}')",
            &text[6..]
        );
        b.until(30, "the reply", &done).await;
    }
    let none = b
        .js("return document.querySelectorAll('#log .usage').length")
        .await;
    assert_eq!(none, 0, "no usage line without usage");
    record(&site).await;
    b.goto(&site.url("/paliadin")).await;
    let lines = b
        .until(
            15,
            "the usage lines",
            "const s = [...document.querySelectorAll('#log .usage summary')]; return s.length === 2 && s.map(x => x.textContent)",
        )
        .await;
    assert_eq!(
        lines,
        serde_json::json!(["22,545 tokens · $0.0171", "30,855 tokens"]),
        "tokens and cost; tokens only for a model without a price"
    );
    let header = b
        .js("const h = document.getElementById('usage-total'); return !h.hidden && h.textContent")
        .await;
    assert_eq!(
        header, "This conversation: 53,400 tokens · $0.0171 · context 25% full (50,000 of 200,000)",
        "the total and the last request's context fill"
    );
    let mut found = Vec::new();
    axe::scan_all(&b, &src, "usage lines", ALLOW, &mut found).await;
    b.click("#log .usage summary").await;
    let open = b
        .until(
            10,
            "the breakdown",
            "const d = document.querySelector('#log .usage'); return d.open && [...d.querySelectorAll('dt, dd')].map(x => x.textContent)",
        )
        .await;
    assert_eq!(
        open,
        serde_json::json!([
            "Model",
            "claude-sonnet-4-5",
            "Input",
            "1,200",
            "Output",
            "345",
            "Cache read",
            "20,000",
            "Cache write",
            "1,000",
            "Cost",
            "$0.0171"
        ])
    );
    axe::scan_all(&b, &src, "an open usage line", ALLOW, &mut found).await;
    assert!(found.is_empty(), "{}", found.join("\n"));
    b.close().await;
}

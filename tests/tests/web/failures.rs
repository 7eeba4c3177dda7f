//! A model failure on the page: the agent gives up on a turn because its model's API failed
//! (the demo agent's `/fail`, which writes the spool's `.failure` file as Claude Code's
//! `StopFailure` hook does), and the reply shows at once the sentence a person can act on for
//! that kind, the agent's own words under it, and **Try again** only where trying again can
//! help; after a reload the history shows the same sentences; the next message is answered. In headless
//! Chromium with the real API, a worker process and the demo agent; the state passes axe-core.

use paliadin_e2e::axe::{self, Allowed};
use paliadin_e2e::browser::{Browser, R, enabled};
use paliadin_e2e::demo_site::{DemoSite, send_text};
use serde_json::json;

const ALLOW: &[Allowed] = &[];

/// Kind, the sentence the page shows, whether it offers Try again.
const KINDS: [(&str, &str, bool); 5] = [
    (
        "authentication_failed",
        "The agent's API key was rejected: an operator must fix its credentials.",
        false,
    ),
    (
        "overloaded",
        "The model is overloaded: try again in a minute.",
        true,
    ),
    (
        "invalid_request",
        "This conversation is too long for the model: start a new one.",
        false,
    ),
    (
        "billing_error",
        "The agent's account is out of credit: an operator must add credit or change the plan.",
        false,
    ),
    (
        "rate_limit",
        "The model is rate-limited: try again in a minute.",
        true,
    ),
];

/// What the reply at `i` (from the end: 1 is the last) shows: its code, kind, sentence, the
/// agent's words and whether it has Try again.
fn shown(i: usize) -> String {
    format!(
        "const r = {R}; const m = r[r.length - {i}]; const e = m && m.querySelector('.notice.error'); \
         return e ? [e.dataset.code, e.dataset.kind || '', e.querySelector('strong').textContent, \
         (e.querySelector('.detail') || {{}}).textContent || '', !!m.querySelector('.retry')] : null"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_model_failure_shows_its_sentence_and_try_again_where_it_helps() {
    let src = axe::source();
    if !enabled("each_model_failure_shows_its_sentence_and_try_again_where_it_helps") {
        return;
    }
    let site = DemoSite::start("fail-w1").await;
    let b = Browser::start("failures").await;
    site.sign_in(&b, &site.owner_token, "/paliadin").await;
    let mut found = Vec::new();
    for (kind, sentence, retry) in KINDS {
        let words = format!("API Error: {kind} <b>as the agent said</b>");
        send_text(&b, &format!("/fail {kind} {words}")).await;
        let got = b.until(30, &format!("the {kind} failure"), &shown(1)).await;
        assert_eq!(
            got,
            json!(["agent_error", kind, sentence, words, retry]),
            "{kind}: the sentence, the agent's words as text, Try again only where it helps"
        );
        if kind == "overloaded" {
            axe::scan_all(
                &b,
                &src,
                "a model failure with Try again",
                ALLOW,
                &mut found,
            )
            .await;
        }
    }
    // The history (a reload) shows the same sentences.
    b.goto(&site.url("/paliadin")).await;
    for (i, (kind, sentence, _)) in KINDS.iter().rev().enumerate() {
        let got = b.until(15, "the history's failure", &shown(i + 1)).await;
        assert_eq!(got[1], *kind, "{got}");
        assert_eq!(got[2], *sentence, "{got}");
    }
    // The next message is answered.
    send_text(&b, "/echo after the failures").await;
    b.until(
        30,
        "the next reply",
        &format!(
            "const r = {R}; const m = r[r.length - 1]; return m.querySelector('.body.rendered') && m.textContent.includes('after the failures')"
        ),
    )
    .await;
    assert!(found.is_empty(), "{}", found.join("\n"));
    b.close().await;
}

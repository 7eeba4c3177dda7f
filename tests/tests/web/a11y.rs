//! Accessibility of every page and state, in headless Chromium with the real API, a worker
//! process and the demo agent in tmux: axe-core (pinned, `deploy/ensure-axe.sh`) with the WCAG
//! 2.0/2.1 A and AA rules and best practices finds nothing on the sign-in page (also with its
//! error), the empty chat, a running reply, a streamed Markdown reply (headings, images with and
//! without alt text, a table, code), a permission request and its answer, its open work log
//! (tool calls and results), an error with Try again, notifications on, the conversations
//! panel, the admin dashboard and a turn's detail; each at desktop (1280 px) and phone (390 px) width, in the light and the dark theme.
//! `web/a11y_keys.rs` walks the chat page with the keyboard alone. Violations are reported once
//! each (rule, impact, element, what to fix) with the states they were seen in.

use paliadin_e2e::axe::{self, Allowed};
use paliadin_e2e::browser::{Browser, R, enabled};
use paliadin_e2e::demo_site::{DemoSite, send_text};

/// Violations accepted, each with its reason. Empty: every page and state is clean.
const ALLOW: &[Allowed] = &[];

/// A reply with what Markdown gives: headings out of order, an image with alt text and a raw one
/// without, a table, inline and block code wider than a phone, a quote, a list.
const MARKDOWN: &str = "/echo # Test report

Some **bold** text, `inline code` and a [link](https://example.org/docs).

![The Paliadin logo](/assets/favicon.svg)

<img src=\"/assets/favicon.svg\">

#### A heading three levels down

| Stage | p50 | p95 |
|---|---:|---:|
| queue wait | 12 ms | 40 ms |
| end to end | 1.2 s | 3.4 s |

```rust
fn main() { println!(\"a line long enough to scroll sideways on a phone ............................................\"); }
```

> a quote

- a list item
- another one";

/// Clicks `css` after scrolling it into view at once (the thread scrolls smoothly, and a click
/// during the scroll lands elsewhere).
async fn press(b: &Browser, css: &str) {
    b.js_with(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'center', behavior: 'instant' })",
        vec![serde_json::json!(css)],
    )
    .await;
    b.click(css).await;
}

/// The newest reply on the chat page (a JS expression).
fn last() -> String {
    format!("{R}[{R}.length - 1]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn web_a11y_every_page_and_state_passes_axe() {
    // Before the browser check: a missing axe-core fails the suite, it never skips it.
    let src = axe::source();
    if !enabled("web_a11y_every_page_and_state_passes_axe") {
        return;
    }
    let site = DemoSite::start("a11y-w1").await;
    let b = Browser::start("a11y").await;
    let mut found = Vec::new();
    let scan = |state: &'static str| {
        let b = &b;
        let src = &src;
        async move {
            let mut f = Vec::new();
            axe::scan_all(b, src, state, ALLOW, &mut f).await;
            f
        }
    };

    b.goto(&site.url("/login")).await;
    found.extend(scan("login").await);
    b.type_into("#token", "pal_not_a_token").await;
    b.click("button[type=submit]").await;
    b.until(
        10,
        "the sign-in error",
        "return document.querySelector('.form-error')",
    )
    .await;
    found.extend(scan("login with an error").await);

    site.sign_in(&b, &site.owner_token, "/paliadin").await;
    b.until(
        10,
        "the empty chat",
        "return !document.getElementById('empty').hidden",
    )
    .await;
    found.extend(scan("empty chat").await);

    send_text(&b, "/ask Bash touch /tmp/x").await;
    let card = format!(
        "return {}.querySelector('.ask:not([data-decided]) button')",
        last()
    );
    b.until(30, "the permission card", &card).await;
    found.extend(scan("a permission request").await);
    press(
        &b,
        "#log .ask:not([data-decided]) button[data-decision=allow]",
    )
    .await;
    let allowed = format!("return {}.querySelector('.body.rendered')", last());
    b.until(30, "the allowed reply", &allowed).await;
    found.extend(scan("an answered request").await);
    press(&b, "#log .msg.assistant:last-child .worklog > summary").await;
    let open = format!(
        "const w = {}.querySelector('.worklog'); return w.open && w.querySelectorAll('.steps > li.tool_result').length === 2",
        last()
    );
    b.until(30, "the open work log", &open).await;
    found.extend(scan("an open work log").await);

    send_text(&b, MARKDOWN).await;
    let rendered = format!(
        "const r = {}; return r.querySelector('.body.rendered') && r.textContent.includes('Test report')",
        last()
    );
    b.until(30, "the Markdown reply", &rendered).await;
    let shown = b
        .js(&format!(
            "const r = {};
             return {{ alt: [...r.querySelectorAll('.body img')].map(i => i.getAttribute('alt')),
                       headings: [...r.querySelectorAll('.body :is(h1, h2, h3, h4, h5, h6)')].map(h => h.tagName) }}",
            last()
        ))
        .await;
    let wanted = serde_json::json!({"alt": ["The Paliadin logo", ""], "headings": ["H2", "H3"]});
    if shown != wanted {
        found.push(format!(
            "[a Markdown reply] images and headings: {shown}, wanted {wanted} (an image keeps its alt \
             text, one without gets alt=\"\"; the reply's headings continue the page's outline)"
        ));
    }
    found.extend(scan("a Markdown reply").await);

    send_text(&b, "/hang").await;
    let running = format!(
        "const r = {}; return !r.querySelector('.activity').hidden && r.querySelector('.cancel')",
        last()
    );
    b.until(30, "the running reply", &running).await;
    found.extend(scan("a running reply").await);
    b.click("#stop").await;
    let cancelled = format!("return {}.querySelector('.notice.cancelled')", last());
    b.until(30, "the cancelled reply", &cancelled).await;

    send_text(&b, "/bad-trailer").await;
    let failed = format!(
        "return {}.querySelector('.notice.error') && {0}.querySelector('.retry')",
        last()
    );
    b.until(30, "the error with Try again", &failed).await;
    found.extend(scan("an error with Try again").await);

    // No push service from here (loopback only): the toggle turns on the in-page notifications.
    b.until(
        15,
        "the notifications toggle",
        "return !document.getElementById('notify-toggle').hidden",
    )
    .await;
    b.js("delete window.PushManager").await;
    b.click("#notify-toggle").await;
    b.until(
        20,
        "notifications on",
        "return document.getElementById('notify-toggle').getAttribute('aria-pressed') === 'true'",
    )
    .await;
    found.extend(scan("notifications on").await);

    b.click("#convos-toggle").await;
    b.until(
        10,
        "the conversations panel",
        "return !document.getElementById('convos').hidden && document.querySelector('#convos-list .convo-button')",
    )
    .await;
    found.extend(scan("the conversations panel").await);
    b.click("#convos-close").await;

    b.click("form[action='/logout'] button").await;
    b.until(10, "signed out", "return location.pathname === '/login'")
        .await;
    site.sign_in(&b, &site.admin_token, "/admin/paliadin").await;
    b.until(
        15,
        "the dashboard with its turns",
        "return document.body.dataset.loaded === 'true' && document.querySelector('#turns tr[data-id]')",
    )
    .await;
    found.extend(scan("the admin dashboard").await);
    press(&b, "#turns tr[data-id]").await;
    b.until(
        10,
        "a turn's detail",
        "return document.getElementById('detail').open && document.querySelector('#d-events li')",
    )
    .await;
    found.extend(scan("a turn's detail").await);
    b.close().await;

    assert!(
        found.is_empty(),
        "axe-core {} found {} violation(s):\n{}",
        axe::AXE_VERSION,
        found.len(),
        axe::report(&found)
    );
}

//! Pins that a hostile reply renders inert in the real page: a reply with `<script>`,
//! `javascript:` links and `on*=` handlers (in Markdown and raw HTML) leaves no script, handler
//! or `javascript:` URL in the reply's DOM, runs nothing when its links are clicked, and opens no
//! alert. (The server sanitises; the page's CSP is the second wall.)

use fantoccini::Locator;
use paliadin_e2e::browser::{R, enabled, send, signed_in};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hostile_reply_renders_inert() {
    if !enabled("a_hostile_reply_renders_inert") {
        return;
    }
    let s = signed_in("sanitise").await;
    let b = &s.browser;
    send(b, "markdown-attack").await;
    b.until(
        15,
        "the rendered attack",
        &format!("return {R}.length === 1 && {R}[0].querySelector('.body.rendered em')"),
    )
    .await;
    let body = "document.querySelector('#log .msg.assistant .body')";
    let report = b
        .js(&format!(
            "const b = {body};
             return {{ pwned: window.__pwned || null, scripts: b.querySelectorAll('script, iframe, svg, object, embed').length,
               handlers: [...b.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name)).filter(n => n.startsWith('on')),
               js_links: [...b.querySelectorAll('[href], [src]')].map(e => e.getAttribute('href') || e.getAttribute('src')).filter(u => /^\\s*javascript:/i.test(u)),
               text: b.innerText }};"
        ))
        .await;
    assert_eq!(report["pwned"], Value::Null, "{report}");
    assert_eq!(report["scripts"], json!(0), "{report}");
    assert_eq!(report["handlers"], json!([]), "{report}");
    assert_eq!(report["js_links"], json!([]), "{report}");
    assert!(
        report["text"].as_str().unwrap().contains("Attack report"),
        "{report}"
    );
    // Clicking what is left of the links runs nothing, and no alert ever opened.
    for a in b
        .client
        .find_all(Locator::Css("#log .msg.assistant .body a"))
        .await
        .unwrap()
    {
        a.click().await.unwrap();
    }
    assert!(b.client.get_alert_text().await.is_err(), "no alert");
    assert_eq!(b.js("return window.__pwned || null").await, Value::Null);
    b.screenshot("01-inert").await;
    s.browser.close().await;
    s.worker.stop().await;
}

//! Pins the chat page in headless Chromium, end to end with the real API and a worker (scripted
//! driver, so the test controls timing): sign in with a token; Shift+Enter is a newline and
//! Enter sends; the reply streams as text, then becomes the server-rendered HTML; a reload
//! mid-turn resumes without duplicated text; queued turns show how many are ahead; errors get
//! their friendly text; cancel and "New conversation" work; the cookie is HttpOnly and the
//! cookie+Origin path works from the page. (`web/sanitise.rs` pins hostile replies.)

use fantoccini::key::Key;
use paliadin_e2e::browser::{Browser, R, enabled, send, signed_in};
use paliadin_e2e::scripted::ScriptedDriver;
use serde_json::{Value, json};

/// The n-th reply's state: {text, streaming, rendered, status, received, em}.
async fn reply(b: &Browser, n: usize) -> Value {
    b.js_with(
        &format!(
            "const r = {R}[arguments[0]]; if (!r) return null;
             const body = r.querySelector('.body'), st = r.querySelector('.status');
             return {{ text: body.innerText, streaming: body.classList.contains('streaming'),
               rendered: body.classList.contains('rendered'), status: st && !st.hidden ? st.textContent : '',
               received: Number(r.dataset.received || 0), em: (body.querySelector('em') || {{}}).textContent || null,
               notice: (r.querySelector('.notice') || {{}}).textContent || null }};",
        ),
        vec![json!(n)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chat_page_streams_resumes_cancels_and_resets() {
    if !enabled("chat_page_streams_resumes_cancels_and_resets") {
        return;
    }
    let s = signed_in("chat").await;
    let b = &s.browser;
    b.until(
        10,
        "the empty state",
        "return !document.getElementById('empty').hidden",
    )
    .await;
    assert_eq!(
        b.js("return document.cookie.includes('paliadin_session')")
            .await,
        json!(false),
        "HttpOnly"
    );
    b.screenshot("02-empty").await;

    // Shift+Enter is a newline, not a send.
    b.type_into(
        "#composer-input",
        &format!(
            "draft{}{}{}",
            char::from(Key::Shift),
            char::from(Key::Enter),
            char::from(Key::Null)
        ),
    )
    .await;
    assert_eq!(
        b.js("return document.getElementById('composer-input').value")
            .await,
        json!("draft\n")
    );
    assert_eq!(b.js(&format!("return {R}.length")).await, json!(0));
    b.js("document.getElementById('composer-input').value = ''")
        .await;

    // Enter sends (a cookie + Origin POST from the page); the reply streams as plain text.
    let msg = "gate:g1 hello *world*";
    let full = ScriptedDriver::reply_for(msg);
    send(b, msg).await;
    b.until(
        15,
        "the first streamed chunk",
        &format!("return {R}.length === 1 && {R}[0].querySelector('.body').textContent.length > 0"),
    )
    .await;
    let before = reply(b, 0).await;
    let partial = before["text"].as_str().unwrap().to_owned();
    assert!(
        full.starts_with(&partial) && partial.len() < full.len(),
        "{before}"
    );
    assert_eq!(before["streaming"], json!(true));
    assert_eq!(before["em"], Value::Null, "no HTML while streaming");
    b.screenshot("03-streaming").await;

    // Reload mid-turn: the page resumes, the replayed events are dropped, the text is not doubled.
    let received = before["received"].as_i64().unwrap();
    b.client.refresh().await.unwrap();
    b.until(
        15,
        "the stream replayed after reload",
        &format!("return {R}.length === 1 && Number({R}[0].dataset.received || 0) >= {received}"),
    )
    .await;
    let after = reply(b, 0).await;
    assert_eq!(after["text"], json!(partial), "resumed text: {after}");
    assert_eq!(after["streaming"], json!(true));
    b.screenshot("04-resumed").await;
    s.driver.open("g1");
    b.until(
        15,
        "the rendered reply",
        &format!("return {R}[0].querySelector('.body.rendered em')"),
    )
    .await;
    let done = reply(b, 0).await;
    assert_eq!(done["em"], json!("world"));
    assert_eq!(done["text"].as_str().unwrap().trim(), full.replace('*', ""));
    let log = b
        .js("return document.getElementById('log').innerText")
        .await;
    assert_eq!(
        log.as_str().unwrap().matches("reply to:").count(),
        1,
        "{log}"
    );
    assert_eq!(
        b.js("return sessionStorage.getItem('paliadin.live')").await,
        Value::Null
    );
    b.screenshot("05-rendered").await;

    // Two at once: the second waits its turn and says so.
    send(b, "gate:g2 first").await;
    b.until(
        15,
        "the first of two streaming",
        &format!("return {R}.length === 2 && {R}[1].querySelector('.body').textContent"),
    )
    .await;
    send(b, "second").await;
    b.until(10, "queued (1 ahead)", &format!("return {R}.length === 3 && {R}[2].querySelector('.status').textContent === 'Queued (1 ahead)'")).await;
    b.screenshot("06-queued").await;
    s.driver.open("g2");
    b.until(
        15,
        "both rendered",
        &format!("return {R}.filter(r => r.querySelector('.body.rendered')).length === 3"),
    )
    .await;

    // A failed turn shows the friendly text for its code and the server's stable message (the
    // driver's own error text stays in the worker's log: docs/security.md).
    send(b, "fail now").await;
    b.until(
        15,
        "the error notice",
        &format!("return {R}.length === 4 && {R}[3].querySelector('.notice.error')"),
    )
    .await;
    let failed = reply(b, 3).await;
    let notice = failed["notice"].as_str().unwrap();
    assert!(
        notice.contains("ran into a problem")
            && notice.contains("something went wrong while running the agent")
            && !notice.contains("scripted failure"),
        "{notice}"
    );

    // Cancel a turn that would never end.
    send(b, "hang forever").await;
    b.until(
        15,
        "the hanging turn running",
        &format!(
            "return {R}.length === 5 && {R}[4].querySelector('.status').textContent === 'Thinking…'"
        ),
    )
    .await;
    b.click("#stop").await;
    b.until(
        15,
        "cancelled shown",
        &format!("return {R}[4].querySelector('.notice.cancelled')"),
    )
    .await;
    assert_eq!(
        b.js("return document.getElementById('stop').hidden").await,
        json!(true)
    );
    b.screenshot("07-cancelled").await;

    // Dark theme, and the phone layout.
    b.click("#theme-toggle").await;
    b.until(
        5,
        "dark theme",
        "return document.documentElement.dataset.theme === 'dark'",
    )
    .await;
    b.screenshot("08-dark").await;
    b.client.set_window_size(390, 844).await.unwrap();
    b.until(5, "phone layout", "return window.innerWidth <= 400")
        .await;
    b.screenshot("09-phone").await;
    b.client.set_window_size(1280, 900).await.unwrap();

    // New conversation: empty now and after a reload; the old one is not shown.
    let old = b
        .js("return localStorage.getItem('paliadin.session')")
        .await;
    b.click("#new-chat").await;
    b.until(
        30,
        "the empty conversation",
        &format!("return {R}.length === 0 && !document.getElementById('empty').hidden"),
    )
    .await;
    let new = b
        .js("return localStorage.getItem('paliadin.session')")
        .await;
    assert_ne!(new, old);
    // A new conversation kills no agent: the old one stays resumable (its agent is replaced
    // only when a turn of another conversation needs the session).
    assert_eq!(s.driver.resets.lock().unwrap().len(), 0);
    b.client.refresh().await.unwrap();
    b.until(10, "still empty after reload", &format!("return document.readyState === 'complete' && {R}.length === 0 && !document.getElementById('empty').hidden")).await;
    b.screenshot("10-new-conversation").await;

    // Log out: back to the sign-in page, and the chat page no longer exists for this browser.
    b.click("form[action='/logout'] button").await;
    b.until(
        10,
        "the sign-in page",
        "return location.pathname === '/login'",
    )
    .await;
    b.goto(&format!("{}/paliadin", s.api.base)).await;
    let body = b
        .until(
            10,
            "the 404",
            "return document.body && document.body.innerText",
        )
        .await;
    assert!(body.as_str().unwrap().contains("not_found"), "{body}");
    s.browser.close().await;
    s.worker.stop().await;
}

//! Pins permission requests on the chat page in headless Chromium, with the real API and a
//! worker (scripted driver: `ask:<tool>` asks before answering): the request shows inline with
//! its tool, what it will do and a button per offered answer; it survives a reload; clicking
//! Allow answers it; an answer given elsewhere (another tab or the phone) updates the page
//! through the stream; the phone layout keeps the buttons usable.

use paliadin_e2e::browser::{R, enabled, send, signed_in};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_chat_page_shows_a_request_and_answers_it() {
    if !enabled("the_chat_page_shows_a_request_and_answers_it") {
        return;
    }
    let s = signed_in("perm").await;
    let b = &s.browser;
    send(b, "ask:Bash please run the tests").await;
    let card = format!("{R}[0] && {R}[0].querySelector('.ask:not([data-decided])')");
    b.until(15, "the request card", &format!("return {card}"))
        .await;
    let shown = b
        .js(&format!(
            "const c = {card};
             return {{ title: c.querySelector('.ask-title').textContent,
                       summary: c.querySelector('.ask-summary').textContent,
                       buttons: [...c.querySelectorAll('button')].map(b => b.dataset.decision),
                       focused: document.activeElement && document.activeElement.dataset.decision || null,
                       status: {R}[0].querySelector('.status').textContent }};"
        ))
        .await;
    assert_eq!(shown["title"], "Paliadin asks to use Bash", "{shown}");
    assert_eq!(shown["summary"], "scripted: ask:Bash please run the tests");
    assert_eq!(shown["buttons"], json!(["allow", "allow_always", "deny"]));
    assert_eq!(
        shown["focused"], "allow",
        "keyboard users land on the first answer"
    );
    assert_eq!(shown["status"], "Waiting for you");
    b.screenshot("10-ask").await;

    // A reload shows the same pending request.
    b.client.refresh().await.unwrap();
    b.until(15, "the request after a reload", &format!("return {card}"))
        .await;
    assert_eq!(
        b.js(&format!("return {R}[0].querySelectorAll('.ask').length"))
            .await,
        json!(1)
    );
    b.click("#log .ask button[data-decision=allow]").await;
    b.until(
        15,
        "the allowed reply",
        &format!("return {R}[0].querySelector('.body.rendered')"),
    )
    .await;
    let done = b
        .js(&format!(
            "return {{ decided: {R}[0].querySelector('.ask-decided').textContent,
                       text: {R}[0].querySelector('.body').innerText }};"
        ))
        .await;
    assert_eq!(done["decided"], "Allowed", "{done}");
    assert!(
        done["text"]
            .as_str()
            .unwrap()
            .starts_with("allow: reply to: ask:Bash"),
        "{done}"
    );
    b.screenshot("11-allowed").await;

    // On the phone, answered from elsewhere: the stream brings the decision to this page.
    b.client.set_window_size(390, 844).await.unwrap();
    send(b, "ask:Write /etc/hosts").await;
    let card = format!("{R}[1] && {R}[1].querySelector('.ask:not([data-decided])')");
    b.until(15, "the second request", &format!("return {card}"))
        .await;
    let fits = b
        .js(&format!(
            "const r = {card}.getBoundingClientRect();
             const bs = [...{card}.querySelectorAll('button')].map(b => b.getBoundingClientRect());
             return r.right <= window.innerWidth && bs.every(b => b.height >= 44 && b.right <= window.innerWidth);"
        ))
        .await;
    assert_eq!(fits, json!(true), "the request does not fit a phone");
    b.screenshot("12-ask-phone").await;
    let status = b
        .js(&format!(
            "const c = {card}, turn = {R}[1].dataset.turn;
             return fetch(`/api/paliadin/turn/${{turn}}/permission/${{c.dataset.request}}`, {{
                 method: 'POST', credentials: 'same-origin',
                 headers: {{ 'Content-Type': 'application/json' }},
                 body: JSON.stringify({{ decision: 'deny', message: 'not from here' }}) }})
               .then(r => r.status);"
        ))
        .await;
    assert_eq!(status, json!(200));
    b.until(
        15,
        "the denial shown",
        &format!("return {R}[1].querySelector('.ask-decided.denied') && {R}[1].querySelector('.body.rendered')"),
    )
    .await;
    let text = b
        .js(&format!("return {R}[1].querySelector('.body').innerText"))
        .await;
    assert!(
        text.as_str()
            .unwrap()
            .starts_with("deny: reply to: ask:Write"),
        "{text}"
    );
    b.screenshot("13-denied-phone").await;
}

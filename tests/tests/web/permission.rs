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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_conversations_drawer_lists_searches_and_switches() {
    if !enabled("the_conversations_drawer_lists_searches_and_switches") {
        return;
    }
    let s = signed_in("convos").await;
    let b = &s.browser;
    // Two conversations: the first one, then "New conversation" and a second one.
    send(b, "apples and pears").await;
    b.until(
        15,
        "the first reply",
        &format!("return {R}[0] && {R}[0].querySelector('.body.rendered')"),
    )
    .await;
    b.click("#new-chat").await;
    b.until(10, "an empty thread", &format!("return {R}.length === 0"))
        .await;
    send(b, "bananas only").await;
    b.until(
        15,
        "the second reply",
        &format!("return {R}[0] && {R}[0].querySelector('.body.rendered')"),
    )
    .await;

    b.click("#convos-toggle").await;
    let titles = "return [...document.querySelectorAll('#convos-list .convo-title')].map(t => t.textContent)";
    b.until(
        10,
        "two conversations listed",
        "return document.querySelectorAll('#convos-list .convo-title').length === 2",
    )
    .await;
    assert_eq!(
        b.js(titles).await,
        json!(["bananas only", "apples and pears"])
    );
    assert_eq!(
        b.js("return document.querySelector('#convos-list [aria-current=true] .convo-title').textContent").await,
        json!("bananas only")
    );
    b.screenshot("20-convos").await;

    // Search narrows the list to the conversation that mentions it.
    b.type_into("#convos-search", "PEARS").await;
    b.until(10, "the search result", "const t = [...document.querySelectorAll('#convos-list .convo-title')]; return t.length === 1 && t[0].textContent === 'apples and pears'")
        .await;
    b.click("#convos-list .convo-button").await;
    b.until(10, "the first conversation shown", &format!("return document.getElementById('convos').hidden && {R}.length === 1 && {R}[0].querySelector('.body').innerText.includes('apples and pears')"))
        .await;

    // On a phone the drawer covers the width and still lists both.
    b.client.set_window_size(390, 844).await.unwrap();
    b.js("document.getElementById('convos-search').value = ''")
        .await;
    b.click("#convos-toggle").await;
    b.until(10, "the drawer on a phone", "const d = document.getElementById('convos'); return !d.hidden && d.getBoundingClientRect().width >= window.innerWidth - 1 && document.querySelectorAll('#convos-list .convo-title').length === 2")
        .await;
    b.screenshot("21-convos-phone").await;

    // Delete the other conversation ("bananas only"): asked first, a "no" keeps it.
    let bananas = "[...document.querySelectorAll('#convos-list .convo')].find(li => li.querySelector('.convo-title').textContent === 'bananas only').querySelector('.convo-delete')";
    b.js(&format!("{bananas}.click()")).await;
    b.client
        .dismiss_alert()
        .await
        .expect("a confirmation was asked");
    assert_eq!(
        b.js("return document.querySelectorAll('#convos-list .convo').length")
            .await,
        json!(2)
    );
    b.js(&format!("{bananas}.click()")).await;
    b.client
        .accept_alert()
        .await
        .expect("a confirmation was asked");
    b.until(10, "the deleted conversation gone from the list", "const t = [...document.querySelectorAll('#convos-list .convo-title')].map(x => x.textContent); return t.length === 1 && t[0] === 'apples and pears'")
        .await;
    // Gone on the server too, and the focus is on what remains, not lost.
    let left: i64 = sqlx::query_scalar("SELECT count(DISTINCT session_id) FROM turns")
        .fetch_one(&s.db.pool)
        .await
        .unwrap();
    assert_eq!(left, 1, "the conversation is gone from the database");
    assert_eq!(
        b.js("return document.activeElement.classList.contains('convo-button')")
            .await,
        json!(true)
    );
}

//! The chat page with the keyboard alone, in headless Chromium with the real API, a worker
//! process and the demo agent in tmux: sign in, a full round of Tab that comes back to where it
//! started (nothing traps the focus), send, cancel a running reply, answer a permission request,
//! start a new conversation, open the conversations panel, search it, switch conversation, close
//! the panel with Escape, and sign out. Every key goes to whatever has the focus (WebDriver key
//! actions; no clicks, no element targeted), and at every stop the focused element is on screen
//! with its focus indicator drawn.

use fantoccini::key::Key;
use paliadin_e2e::browser::{Browser, R, enabled};
use paliadin_e2e::demo_site::DemoSite;
use paliadin_e2e::keys::{assert_focus, key, keys, tab_to};

/// The newest reply on the chat page (a JS expression).
fn last() -> String {
    format!("{R}[{R}.length - 1]")
}

/// Types `text` and presses Enter (the composer sends).
async fn say(b: &Browser, text: &str) {
    keys(b, text).await;
    key(b, Key::Enter).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn web_a11y_keyboard_only_walk() {
    if !enabled("web_a11y_keyboard_only_walk") {
        return;
    }
    let site = DemoSite::start("a11y-keys").await;
    let b = Browser::start("a11y-keys").await;

    // Sign in: the token field has the focus on arrival.
    b.goto(&site.url("/login")).await;
    assert_focus(&b, "#token", "the sign-in page").await;
    say(&b, &site.owner_token).await;
    b.until(
        15,
        "the chat page",
        "return location.pathname === '/paliadin' && document.readyState === 'complete'",
    )
    .await;
    let composer = "#composer-input";
    b.until(
        10,
        "the message box focused",
        "return document.activeElement.id === 'composer-input'",
    )
    .await;
    assert_focus(&b, composer, "the chat page").await;

    // One full round of Tab comes back to the message box through every control of the page.
    let round = tab_to(&b, composer, false, 40, "a round of Tab").await;
    for control in [
        "a.skip-link",
        "button#convos-toggle",
        "button#new-chat",
        "button#theme-toggle",
        "Log out",
        "button#send",
    ] {
        assert!(
            round.iter().any(|n| n.contains(control)),
            "{control} not in the Tab order: {round:?}"
        );
    }

    // Send, and the reply arrives.
    say(&b, "hello from the keyboard").await;
    let replied = format!(
        "const r = {}; return r && r.querySelector('.body.rendered') && r.textContent.includes('hello from the keyboard')",
        last()
    );
    b.until(30, "the reply", &replied).await;
    assert_focus(&b, composer, "after sending").await;

    // Cancel a running reply with the composer's stop button.
    say(&b, "/hang").await;
    let running = format!(
        "const r = {}; return !r.querySelector('.activity').hidden && r.querySelector('.cancel')",
        last()
    );
    b.until(30, "the running reply", &running).await;
    tab_to(&b, "#stop", false, 3, "to the stop button").await;
    key(&b, Key::Enter).await;
    let cancelled = format!("return {}.querySelector('.notice.cancelled')", last());
    b.until(30, "the cancelled reply", &cancelled).await;
    assert_focus(&b, composer, "after stopping").await;

    // A permission request takes the focus to its first answer; Space allows.
    say(&b, "/ask Bash touch /tmp/x").await;
    let asked = format!(
        "return {}.querySelector('.ask:not([data-decided])') && document.activeElement.dataset.decision === 'allow'",
        last()
    );
    b.until(30, "the permission request focused", &asked).await;
    assert_focus(&b, "button[data-decision=allow]", "the permission request").await;
    key(&b, Key::Space).await;
    let allowed = format!("return {}.querySelector('.body.rendered')", last());
    b.until(30, "the allowed reply", &allowed).await;
    assert_focus(&b, ".ask-decided.allowed", "after answering").await;
    tab_to(&b, composer, false, 20, "back to the message box").await;

    // A second conversation, from the header's button.
    tab_to(&b, "#new-chat", false, 20, "to New conversation").await;
    key(&b, Key::Enter).await;
    b.until(
        10,
        "an empty thread",
        &format!("return {R}.length === 0 && document.activeElement.id === 'composer-input'"),
    )
    .await;
    say(&b, "a second conversation").await;
    b.until(
        30,
        "the second reply",
        &format!("return {R}.length === 1 && {R}[0].querySelector('.body.rendered')"),
    )
    .await;

    // The conversations panel: open, search, choose the first conversation.
    tab_to(&b, "#convos-toggle", false, 20, "to Conversations").await;
    key(&b, Key::Enter).await;
    b.until(
        10,
        "the panel open",
        "return !document.getElementById('convos').hidden",
    )
    .await;
    assert_focus(&b, "#convos-search", "the panel").await;
    keys(&b, "keyboard").await;
    b.until(
        10,
        "the search result",
        "const t = [...document.querySelectorAll('#convos-list .convo-title')];
         return t.length === 1 && t[0].textContent === 'hello from the keyboard'",
    )
    .await;
    key(&b, Key::Tab).await;
    assert_focus(&b, "#convos-list .convo-button", "the search result").await;
    key(&b, Key::Enter).await;
    b.until(
        10,
        "the first conversation shown",
        &format!(
            "return document.getElementById('convos').hidden && {R}.length === 3 &&
                    document.querySelector('#log .msg.user').textContent === 'hello from the keyboard'"
        ),
    )
    .await;
    assert_focus(&b, "#convos-toggle", "after choosing a conversation").await;

    // Escape closes the panel and gives the focus back to its button.
    key(&b, Key::Enter).await;
    b.until(10, "the panel open again", "return !document.getElementById('convos').hidden && document.activeElement.id === 'convos-search'")
        .await;
    key(&b, Key::Escape).await;
    b.until(
        10,
        "the panel closed",
        "return document.getElementById('convos').hidden",
    )
    .await;
    assert_focus(&b, "#convos-toggle", "after Escape").await;

    // Sign out.
    tab_to(&b, "form[action='/logout'] button", false, 10, "to Log out").await;
    key(&b, Key::Enter).await;
    b.until(10, "signed out", "return location.pathname === '/login'")
        .await;
    // The token field has the focus again. Its ring is not checked here: after this redirect
    // headless Chromium gives the new document no focus (not even a plain `:focus` rule
    // matches), so no page could draw one.
    assert_eq!(
        b.js("return document.activeElement.id").await,
        serde_json::json!("token"),
        "the sign-in page again"
    );
    b.close().await;
}

//! Pins the chat page's notification plumbing in headless Chromium (no real push service is
//! reachable, so delivery itself is pinned by `web/push.rs`): the page links a manifest that
//! loads, with its icon; the service worker `/sw.js` registers with scope `/paliadin`; the
//! header has a Notifications toggle that turns on (permission granted; in-page notifications,
//! as where a browser has no push service) and off; a reply that
//! finishes while the tab is hidden puts "(1)" in the title until the tab is seen again.

use paliadin_e2e::browser::{enabled, send, signed_in};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_page_is_installable_registers_its_worker_and_badges_hidden_replies() {
    if !enabled("the_page_is_installable_registers_its_worker_and_badges_hidden_replies") {
        return;
    }
    let s = signed_in("notify").await;
    let b = &s.browser;

    let manifest = b
        .js(
            "const href = document.querySelector('link[rel=manifest]').href;
             return fetch(href).then(async r => {
               const m = await r.json();
               const icon = await fetch(new URL(m.icons[0].src, href));
               return { type: r.headers.get('content-type'), m,
                        icon: icon.status, icon_type: icon.headers.get('content-type') };
             });",
        )
        .await;
    assert_eq!(manifest["type"], "application/manifest+json", "{manifest}");
    assert_eq!(manifest["m"]["start_url"], "/paliadin");
    assert_eq!(manifest["m"]["scope"], "/paliadin");
    assert_eq!(manifest["m"]["display"], "standalone");
    assert_eq!(manifest["icon"], 200);
    assert_eq!(manifest["icon_type"], "image/svg+xml");

    b.until(
        15,
        "the service worker",
        "return document.querySelector('#notify-toggle').dataset.worker === 'ready'",
    )
    .await;
    let sw = b
        .js("return navigator.serviceWorker.getRegistration('/paliadin')
               .then(r => r && ({ scope: r.scope, script: (r.active || r.installing || r.waiting).scriptURL }));")
        .await;
    assert_eq!(sw["scope"], format!("{}/paliadin", s.api.base), "{sw}");
    assert_eq!(sw["script"], format!("{}/sw.js", s.api.base), "{sw}");

    let toggle = b
        .js("const t = document.querySelector('#notify-toggle');
             return { hidden: t.hidden, pressed: t.getAttribute('aria-pressed'),
                      label: t.textContent.trim(), header: !!t.closest('header') };")
        .await;
    assert_eq!(
        toggle,
        json!({"hidden": false, "pressed": "false", "label": "Notifications", "header": true})
    );
    // No push subscription from here: Chromium would try to reach its vendor's push service,
    // and these tests talk only to loopback. Delivery is pinned by web/push.rs.
    b.js("delete window.PushManager; return 'PushManager' in window")
        .await;
    b.click("#notify-toggle").await;
    b.until(
        20,
        "notifications on",
        "return document.querySelector('#notify-toggle').getAttribute('aria-pressed') === 'true'",
    )
    .await;
    assert_eq!(b.js("return Notification.permission").await, "granted");
    b.screenshot("01-on").await;

    // The tab is hidden: a finished reply shows in the title, until the tab is seen.
    b.js("Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });")
        .await;
    send(b, "hello while away").await;
    b.until(
        20,
        "the title badge",
        "return document.title === '(1) Paliadin'",
    )
    .await;
    b.js("delete document.hidden; document.dispatchEvent(new Event('visibilitychange'));")
        .await;
    assert_eq!(b.js("return document.title").await, "Paliadin");

    b.until(
        10,
        "the toggle to settle",
        "return !document.querySelector('#notify-toggle').disabled",
    )
    .await;
    b.click("#notify-toggle").await;
    b.until(
        10,
        "notifications off",
        "const t = document.querySelector('#notify-toggle');
         return !t.disabled && t.getAttribute('aria-pressed') === 'false'",
    )
    .await;
    s.browser.close().await;
}

//! The work log, turn links and the phone header, in headless Chromium with the real API, a
//! worker process and the demo agent in tmux (its conversation file is the transcript the
//! worker follows for `step` events). A reply's work log fills while the turn runs, shows the
//! same steps after a reload (from the tab's saved state, and from the stream's replay when
//! there is none), and, for a finished turn of the history, once it is opened; agent output in a
//! step is text, never HTML. A turn's link (`/paliadin/c/<session>#turn-<turn>`, `-step-<n>`)
//! opens its conversation and marks and focuses the turn (or step) at desktop and phone width;
//! another owner's conversation opens as an empty one. At 390 px every header control is on
//! screen, in the light and the dark theme.

use paliadin_e2e::browser::{Browser, R, enabled};
use paliadin_e2e::demo_site::{DemoSite, send_text};
use paliadin_e2e::http::{Client, user};
use paliadin_shared::db::users::Role;
use serde_json::{Value, json};

/// A step whose text is markup: it must show as text.
const XSS: &str = "<img src=x onerror=window.__xss=1>";

/// The newest reply on the chat page (a JS expression).
fn last() -> String {
    format!("{R}[{R}.length - 1]")
}

/// The steps of reply `reply` (a JS expression) as `[[id, kind, text], …]`, in order.
fn steps_of(reply: &str) -> String {
    format!(
        "const r = {reply}; return r ? [...r.querySelectorAll('.worklog .steps > li')]
           .map(li => [li.id, li.className.split(' ')[1], li.textContent]) : null"
    )
}

/// Clicks `css` after scrolling it into view at once (the thread scrolls smoothly).
async fn press(b: &Browser, css: &str) {
    b.js_with(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'center', behavior: 'instant' })",
        vec![json!(css)],
    )
    .await;
    b.click(css).await;
}

/// Waits until reply `reply` shows `n` steps and returns them.
async fn wait_steps(b: &Browser, reply: &str, n: usize, what: &str) -> Value {
    let script = format!(
        "const s = (function() {{ {} }})(); return s && s.length === {n} && s",
        steps_of(reply)
    );
    b.until(30, what, &script).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_work_log_fills_live_survives_a_reload_and_opens_from_the_history() {
    if !enabled("the_work_log_fills_live_survives_a_reload_and_opens_from_the_history") {
        return;
    }
    let site = DemoSite::start("worklog-w1").await;
    let b = Browser::start("worklog").await;
    site.sign_in(&b, &site.owner_token, "/paliadin").await;

    // A reply without steps offers no work log.
    send_text(&b, "/echo no steps here").await;
    let echoed = format!("return {}.querySelector('.body.rendered')", last());
    b.until(30, "the echo", &echoed).await;

    // The turn waits for a permission: its first tool call is in the log while it runs.
    send_text(&b, &format!("/ask Bash {XSS}")).await;
    let live = wait_steps(&b, &last(), 2, "the live steps").await;
    let running = b
        .js(&format!(
            "const r = {}; return [r.getAttribute('aria-busy'), !!r.querySelector('.ask:not([data-decided])'),
               r.querySelector('.worklog > summary').textContent]",
            last()
        ))
        .await;
    assert_eq!(running[0], "true", "the turn still runs: {running}");
    assert_eq!(running[1], true, "it waits for the permission: {running}");
    let summary = running[2].as_str().unwrap();
    assert!(
        summary.starts_with("Work log2 steps") && summary.contains("asking for permission"),
        "the summary is the log's title, its count and the activity: {summary:?}"
    );
    let turn = b
        .js(&format!("return {}.dataset.turn", last()))
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(live[0][0], format!("turn-{turn}-step-1"), "{live}");
    assert_eq!(live[0][1], "tool");
    assert_eq!(live[1][1], "tool_result");
    let saved = b
        .js("return JSON.parse(sessionStorage.getItem('paliadin.live')).steps.map(s => s.n)")
        .await;
    assert_eq!(
        saved,
        json!([1, 2]),
        "the steps are saved with the live turn"
    );

    // A reload shows them again (saved state), and so does a tab with nothing saved (replay).
    b.client.refresh().await.expect("reload");
    let again = wait_steps(&b, &last(), 2, "the steps after a reload").await;
    assert_eq!(again, live, "the same steps, in order, once each");
    b.js("sessionStorage.clear()").await;
    b.client.refresh().await.expect("reload");
    let replayed = wait_steps(&b, &last(), 2, "the replayed steps").await;
    assert_eq!(replayed, live, "the stream's replay brings the same steps");

    // Allowed: the tool runs (its summary is the markup, as text), the reply ends.
    b.until(
        30,
        "the permission card",
        &format!(
            "return {}.querySelector('.ask:not([data-decided]) button[data-decision=allow]')",
            last()
        ),
    )
    .await;
    press(
        &b,
        "#log .ask:not([data-decided]) button[data-decision=allow]",
    )
    .await;
    b.until(
        30,
        "the allowed reply",
        &format!("return {}.querySelector('.body.rendered')", last()),
    )
    .await;
    let done = wait_steps(&b, &last(), 4, "all four steps").await;
    assert_eq!(done.as_array().unwrap()[..2], live.as_array().unwrap()[..]);
    let kinds: Vec<&str> = done
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[1].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["tool", "tool_result", "tool", "tool_result"]);
    assert!(
        done[2][2].as_str().unwrap().contains(XSS) && done[3][2].as_str().unwrap().contains(XSS),
        "the markup shows as text: {done}"
    );
    let inert = b
        .js("return [document.querySelectorAll('#log .worklog img').length, window.__xss === undefined]")
        .await;
    assert_eq!(inert, json!([0, true]), "no element was made from a step");
    let shown = b
        .js(&format!(
            "const r = {}; return [r.querySelector('.worklog > summary').textContent, r.querySelector('.activity').hidden]",
            last()
        ))
        .await;
    assert_eq!(
        shown,
        json!(["Work log4 steps", true]),
        "finished: title and count only"
    );
    let link = b
        .js(&format!(
            "return {}.querySelector('button.link').dataset.url",
            last()
        ))
        .await;
    assert!(
        link.as_str().unwrap().ends_with(&format!("#turn-{turn}")),
        "{link}"
    );

    // The history: a finished turn's log is offered closed, and loads when opened.
    b.client.refresh().await.expect("reload");
    let offered = b
        .until(
            15,
            "the history",
            &format!(
                "const r = {R}; return r.length === 2 && r[1].querySelector('.body.rendered') &&
                   r.map(x => {{ const w = x.querySelector('.worklog'); return [w.hidden, w.open,
                     w.querySelector('summary').textContent, w.querySelectorAll('.steps > li').length]; }})"
            ),
        )
        .await;
    assert_eq!(
        offered,
        json!([
            [true, false, "Work log", 0],
            [false, false, "Work log4 steps", 0]
        ]),
        "no log for a reply without steps; a closed, unloaded one for the other"
    );
    press(&b, "#log .msg.assistant:last-child .worklog > summary").await;
    let history = wait_steps(&b, &last(), 4, "the history's steps").await;
    assert_eq!(history, done, "the history shows the same steps in order");
    let inert = b
        .js("return [document.querySelectorAll('#log .worklog img').length, window.__xss === undefined]")
        .await;
    assert_eq!(inert, json!([0, true]));
    b.screenshot("history-open").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_turn_link_opens_its_conversation_and_marks_the_turn_at_desktop_and_phone_width() {
    if !enabled("a_turn_link_opens_its_conversation_and_marks_the_turn_at_desktop_and_phone_width")
    {
        return;
    }
    let site = DemoSite::start("worklog-w2").await;
    let b = Browser::start("turnlink").await;
    site.sign_in(&b, &site.owner_token, "/paliadin").await;
    for text in ["/activity 3", "/echo second", "/echo third"] {
        send_text(&b, text).await;
        b.until(
            30,
            "the reply",
            &format!("const r = {}; return r.querySelector('.body.rendered') && r.querySelector('button.link')", last()),
        )
        .await;
    }
    let first = b
        .js(&format!(
            "const r = {R}[0]; return [r.dataset.turn, r.querySelector('button.link').dataset.url,
               r.querySelectorAll('.worklog .steps > li').length]"
        ))
        .await;
    let turn = first[0].as_str().unwrap().to_owned();
    let url = first[1].as_str().unwrap().to_owned();
    // The step linked to: the last one (the demo's `/activity 3` makes up to seven).
    let step = first[2].as_u64().unwrap();
    assert!(step >= 1, "the reply has a work log: {first}");
    let session = b
        .js("return localStorage.getItem('paliadin.session')")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(url, site.url(&format!("/paliadin/c/{session}#turn-{turn}")));
    // Another conversation is on screen when the link is followed.
    b.click("#new-chat").await;
    b.until(
        10,
        "the new conversation",
        "return !document.getElementById('empty').hidden",
    )
    .await;

    // The highlighted, focused turn, in view; with `-step-<n>` its log open at that step.
    // [path, marked replies, focus in the turn, the target in view, the step marked and focused],
    // once the turn is marked, focused and in view.
    let marked = format!(
        "const r = document.getElementById('turn-{turn}'); if (!r || !r.classList.contains('linked')) return null;
         const f = document.activeElement; const x = document.getElementById('turn-{turn}-step-{step}');
         const box = (x && x.closest('details').open ? x : r.querySelector('.bubble')).getBoundingClientRect();
         const s = document.getElementById('scroller').getBoundingClientRect();
         const seen = box.top >= s.top && box.top < s.bottom;
         if (!r.contains(f) || !seen) return null;
         return [location.pathname, document.querySelectorAll('.msg.linked').length, r.contains(f),
                 seen, !!(x && x.classList.contains('linked') && f === x)]"
    );
    for (width, height) in [(1280, 900), (390, 844)] {
        b.client
            .set_window_size(width, height)
            .await
            .expect("window size");
        b.goto(&site.url("/paliadin")).await;
        b.goto(&url).await;
        let seen = b.until(15, "the linked turn", &marked).await;
        assert_eq!(
            seen,
            json!([format!("/paliadin/c/{session}"), 1, true, true, false]),
            "{width} px: the conversation, the turn marked, focused and in view"
        );
        b.screenshot(&format!("turn-{width}")).await;
        b.goto(&site.url("/paliadin")).await;
        b.goto(&format!("{url}-step-{step}")).await;
        let step = format!("const s = (function() {{ {marked} }})(); return s && s[4] && s");
        let seen = b.until(15, "the linked step", &step).await;
        assert_eq!(seen[2], true, "{width} px: {seen}");
        assert_eq!(seen[3], true, "{width} px: the step is in view: {seen}");
        b.screenshot(&format!("step-{width}")).await;
    }
    b.client
        .set_window_size(1280, 900)
        .await
        .expect("window size");

    // The older form of a notification's link still works.
    b.goto(&site.url(&format!("/paliadin?session={session}&turn={turn}")))
        .await;
    b.until(15, "the turn of the older link", &marked).await;

    // Another owner following the link: an empty, new conversation, as for one that never was.
    let (_, other) = user(&site.db, "other@x", Role::Owner).await;
    b.click("form[action='/logout'] button").await;
    b.until(10, "signed out", "return location.pathname === '/login'")
        .await;
    site.sign_in(&b, &other, "/paliadin").await;
    // The browser forgets the first owner's conversation (a shared browser would remember it).
    b.js("localStorage.removeItem('paliadin.session')").await;
    for link in [
        url.clone(),
        site.url(&format!("/paliadin/c/{}#turn-{turn}", uuid::Uuid::new_v4())),
    ] {
        b.goto(&link).await;
        let empty = b
            .until(
                15,
                "the empty conversation",
                "const t = document.getElementById('toast'); return !t.hidden && !document.getElementById('empty').hidden &&
                   [t.textContent, location.pathname, document.querySelectorAll('#log .msg').length, localStorage.getItem('paliadin.session')]",
            )
            .await;
        assert_eq!(
            empty,
            json!(["That conversation was not found.", "/paliadin", 0, null]),
            "nothing of it, and it is not taken over"
        );
    }

    // Over HTTP: the shell for any owner; a malformed id is the plain 404.
    let web = Client::new(&site.api.base, Some(&other));
    let (unrouted_status, unrouted) = web.get("/no/such/page").await;
    assert_eq!(unrouted_status, 404);
    for bad in [
        "/paliadin/c/not-a-uuid".to_owned(),
        format!("/paliadin/c/{}", session.to_uppercase()),
        format!("/paliadin/c/{}", session.replace('-', "")),
        format!("/paliadin/c/{session}/x"),
    ] {
        assert_eq!(web.get(&bad).await, (404, unrouted.clone()), "{bad}");
    }
    let anonymous = Client::new(&site.api.base, None);
    assert_eq!(
        anonymous.get(&format!("/paliadin/c/{session}")).await,
        (404, unrouted.clone())
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_phone_width_every_header_control_is_on_screen() {
    if !enabled("at_phone_width_every_header_control_is_on_screen") {
        return;
    }
    let site = DemoSite::start("worklog-w3").await;
    let b = Browser::start("header").await;
    site.sign_in(&b, &site.owner_token, "/paliadin").await;
    b.until(
        15,
        "the notifications toggle",
        "return !document.getElementById('notify-toggle').hidden",
    )
    .await;
    for (width, height) in [(390, 844), (1280, 900)] {
        b.client
            .set_window_size(width, height)
            .await
            .expect("window size");
        for theme in ["light", "dark"] {
            b.js_with(
                "document.documentElement.setAttribute('data-theme', arguments[0]);",
                vec![json!(theme)],
            )
            .await;
            let vw = b.js("return document.documentElement.clientWidth").await;
            assert!(vw.as_i64().unwrap() <= i64::from(width), "{vw}");
            let controls = b
                .js(
                    "const vw = document.documentElement.clientWidth, vh = innerHeight;
                     return [...document.querySelectorAll('.topbar button, .topbar .brand')]
                       .filter(e => !e.closest('[hidden]'))
                       .map(e => { const r = e.getBoundingClientRect();
                         const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                         return [e.id || e.getAttribute('aria-label') || e.className,
                           r.left >= 0 && r.right <= vw && r.top >= 0 && r.bottom <= vh && r.width >= 24 && r.height >= 24,
                           !!hit && (e === hit || e.contains(hit))]; })",
                )
                .await;
            let controls = controls.as_array().unwrap();
            assert_eq!(controls.len(), 7, "the brand and six buttons: {controls:?}");
            for c in controls {
                assert_eq!(
                    (&c[1], &c[2]),
                    (&json!(true), &json!(true)),
                    "{width} px, {theme}: {c} is on screen and nothing covers it"
                );
            }
            let scrolls = b
                .js("return document.documentElement.scrollWidth > document.documentElement.clientWidth")
                .await;
            assert_eq!(
                scrolls, false,
                "{width} px, {theme}: nothing scrolls sideways"
            );
            b.screenshot(&format!("{width}-{theme}")).await;
        }
    }
    b.close().await;
}

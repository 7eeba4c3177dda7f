//! The agent's terminal, live and read-only (`GET /api/paliadin/conversations/{id}/terminal`,
//! the chat page's Terminal panel): with a real worker, the demo agent in a private tmux server
//! and headless Chromium. The stream's first frame is what `capture-pane -e -p` shows; a line
//! the agent prints after the view opened arrives as a frame; the panel renders the pane with
//! xterm.js at desktop and phone width, takes the focus and gives it back on Escape; and the
//! vendored xterm.js is exactly the pinned version's file.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::axe;
use paliadin_e2e::browser::{self, Browser, R, log_in, send};
use paliadin_e2e::terminal::{TermSys, next_screen, path, screen_with};
use serde_json::json;
use std::path::Path;
use std::time::Instant;
use uuid::Uuid;

/// The xterm.js release vendored in `api/assets/vendor/xterm/` (keep in step with
/// `XTERM_VERSION` in `deploy/fetch-xterm.sh`).
const XTERM_VERSION: &str = "6.0.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_frame_is_the_pane_and_a_printed_line_follows() {
    let mut sys = TermSys::new(ApiConfig::default()).await;
    sys.start_worker("term-w1");
    let conversation = Uuid::new_v4();
    let (first, evs) = sys.turn_in(conversation, "/echo hello terminal").await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");

    // The agent is idle now: its pane does not change until the next turn.
    let (status, mut frames) = sys.c.open_stream(&path(conversation), None).await;
    assert_eq!(status, 200);
    let opened = next_screen(&mut frames).await;
    let screen = opened.data["screen"].as_str().expect("screen text");
    assert_eq!(
        screen,
        sys.capture(),
        "the first frame is not what capture-pane -e shows"
    );
    assert!(
        screen.contains(&format!("wrote {first}.md")),
        "the pane should show the first turn's line:\n{screen}"
    );
    let (cols, rows) = (&opened.data["cols"], &opened.data["rows"]);
    assert!(cols.as_i64().unwrap() > 0 && rows.as_i64().unwrap() > 0);

    // A line the agent prints after the view opened arrives as a frame.
    let posted = Instant::now();
    let (second, _) = sys.turn_in(conversation, "/echo once more").await;
    let frame = screen_with(&mut frames, &format!("wrote {second}.md")).await;
    println!(
        "terminal: the agent's line reached the view {:.0} ms after its turn was posted (frame {})",
        posted.elapsed().as_secs_f64() * 1000.0,
        frame.id
    );
    assert!(frame.id > opened.id, "frames are numbered in order");

    // The page loads exactly the vendored bytes.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/assets/vendor/xterm");
    for name in ["xterm.mjs", "xterm.css"] {
        let r = reqwest::get(format!("{}/assets/{name}", sys.api.base))
            .await
            .expect("GET asset");
        assert_eq!(r.status().as_u16(), 200, "{name}");
        let body = r.bytes().await.expect("asset body");
        assert_eq!(
            body.as_ref(),
            std::fs::read(dir.join(name)).unwrap(),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panel_renders_the_pane_with_xterm_at_desktop_and_phone_width() {
    if !browser::enabled("the_panel_renders_the_pane_with_xterm_at_desktop_and_phone_width") {
        return;
    }
    let mut sys = TermSys::new(ApiConfig::default()).await;
    sys.start_worker("term-w2");
    let b = Browser::start("terminal").await;
    log_in(&b, &sys.api.base, &sys.token).await;
    send(&b, "/echo shown in the terminal").await;
    b.until(
        60,
        "the reply",
        &format!("const r = {R}; return r.length === 1 && r[0].textContent.includes('shown in the terminal')"),
    )
    .await;
    // Open the panel: it takes the focus and shows the pane through xterm.js.
    let toggle = b.find("#terminal-toggle").await;
    assert_eq!(
        toggle.attr("aria-expanded").await.unwrap().as_deref(),
        Some("false")
    );
    b.click("#terminal-toggle").await;
    b.until(
        30,
        "the pane in xterm.js",
        "const rows = document.querySelector('#terminal-screen .xterm-rows');
         return rows && rows.textContent.includes('wrote ') && document.querySelector('#terminal-status').textContent === 'Live'",
    )
    .await;
    let state = b
        .js(
            "const p = document.getElementById('terminal');
             return { focus: document.activeElement.id, expanded: document.getElementById('terminal-toggle').getAttribute('aria-expanded'),
                      label: document.getElementById(p.getAttribute('aria-labelledby')).textContent,
                      role: p.getAttribute('role'), xterm: !!p.querySelector('.xterm-screen'),
                      cssom: document.adoptedStyleSheets.some(s => s.cssRules.length > 0),
                      rowsHeight: document.querySelector('#terminal-screen .xterm-rows').getBoundingClientRect().height,
                      mono: getComputedStyle(document.querySelector('#terminal-screen .xterm-rows')).fontFamily };",
        )
        .await;
    assert_eq!(state["focus"], "terminal-close", "{state}");
    assert_eq!(state["expanded"], "true");
    assert_eq!(state["label"], "Terminal");
    assert_eq!(state["role"], "dialog");
    assert_eq!(state["xterm"], true, "xterm.js did not render: {state}");
    assert_eq!(
        state["cssom"], true,
        "xterm.js's styles did not reach the page under its CSP: {state}"
    );
    assert!(state["rowsHeight"].as_f64().unwrap() > 100.0, "{state}");
    assert!(state["mono"].as_str().unwrap().contains("mono"), "{state}");
    // What the panel shows is the pane's text, line for line.
    let shown = b
        .js("return [...document.querySelectorAll('#terminal-screen .xterm-rows > div')].map(d => d.textContent.trimEnd()).join('\\n').trimEnd()")
        .await;
    let tmux = sys.rig.screen(&sys.session());
    let tmux: Vec<&str> = tmux.lines().map(str::trim_end).collect();
    assert_eq!(shown.as_str().unwrap(), tmux.join("\n").trim_end());
    b.screenshot("01-desktop").await;
    let axe_src = axe::source();
    let found = axe::scan(&b, &axe_src, "terminal open (desktop)", &[]).await;
    assert!(found.is_empty(), "accessibility:\n{}", found.join("\n"));

    // Escape closes it and the focus goes back to the button; the view is closed on the server.
    b.type_into(
        "#terminal-close",
        &char::from(fantoccini::key::Key::Escape).to_string(),
    )
    .await;
    b.until(
        5,
        "the panel closed",
        "return document.getElementById('terminal').hidden && document.activeElement.id === 'terminal-toggle'",
    )
    .await;
    let pool = sys.db.pool.clone();
    paliadin_e2e::wait_until(10, "the view closed on the server", || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM terminal_views")
                .fetch_one(&pool)
                .await
                .unwrap()
                == 0
        }
    })
    .await;

    // On a phone the panel is a bottom sheet as wide as the screen; the pane scrolls inside.
    b.client.set_window_size(390, 844).await.unwrap();
    b.until(5, "phone layout", "return window.innerWidth <= 400")
        .await;
    b.click("#terminal-toggle").await;
    b.until(
        30,
        "the pane on a phone",
        "const rows = document.querySelector('#terminal-screen .xterm-rows');
         return rows && rows.textContent.includes('wrote ') && document.querySelector('#terminal-status').textContent === 'Live'",
    )
    .await;
    let fits = b
        .js(
            "const r = document.getElementById('terminal').getBoundingClientRect();
             const c = document.getElementById('terminal-close').getBoundingClientRect();
             return r.left >= 0 && r.right <= window.innerWidth && r.bottom <= window.innerHeight + 1 && c.right <= window.innerWidth;",
        )
        .await;
    assert_eq!(fits, json!(true), "the panel does not fit a phone");
    b.screenshot("02-phone").await;
    let found = axe::scan(&b, &axe_src, "terminal open (phone)", &[]).await;
    assert!(found.is_empty(), "accessibility:\n{}", found.join("\n"));
    b.close().await;
}

#[test]
fn the_vendored_xterm_is_the_pinned_release() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/assets/vendor/xterm");
    let pin = std::fs::read_to_string(dir.join("PIN")).expect("api/assets/vendor/xterm/PIN");
    let version = pin
        .lines()
        .find_map(|l| l.strip_prefix("version "))
        .expect("a version line");
    assert_eq!(version, XTERM_VERSION, "PIN names another version");
    let script = std::fs::read_to_string(dir.join("../../../../deploy/fetch-xterm.sh"))
        .expect("deploy/fetch-xterm.sh");
    assert!(
        script.contains(&format!("XTERM_VERSION={XTERM_VERSION}\n")),
        "deploy/fetch-xterm.sh pins another version"
    );
    let integrity = pin
        .lines()
        .find_map(|l| l.strip_prefix("integrity "))
        .expect("an integrity line");
    assert!(
        script.contains(&format!("XTERM_INTEGRITY='{integrity}'")),
        "PIN's integrity is not the one fetch-xterm.sh checks"
    );
    let mut checked = Vec::new();
    for line in pin.lines().filter_map(|l| l.strip_prefix("sha256 ")) {
        let (hash, name) = line.split_once("  ").expect("`<hash>  <file>`");
        let got = sha256(&dir.join(name));
        assert_eq!(
            got, hash,
            "{name} is not the file of @xterm/xterm@{XTERM_VERSION}"
        );
        checked.push(name.to_owned());
    }
    assert_eq!(checked, ["xterm.mjs", "xterm.css", "LICENSE"]);
    let license = std::fs::read_to_string(dir.join("LICENSE")).unwrap();
    assert!(
        license.contains("The xterm.js authors")
            && license.contains("Permission is hereby granted")
    );
}

/// The file's SHA-256 as `sha256sum` prints it.
fn sha256(file: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(file)
        .output()
        .expect("sha256sum");
    assert!(out.status.success(), "sha256sum {}", file.display());
    let text = String::from_utf8(out.stdout).expect("text");
    text.split_whitespace().next().expect("a hash").to_owned()
}

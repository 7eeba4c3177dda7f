//! axe-core in the test browser, for the accessibility suite (`tests/tests/web/a11y.rs`): the
//! pinned `axe.min.js` that `deploy/ensure-axe.sh` installs in `.dev/axe-core`, injected through
//! WebDriver's execute script (which the pages' CSP does not govern: no policy is relaxed), run
//! with the WCAG 2.0/2.1 A and AA rules and best practices, and its violations reported one line
//! per element (rule, impact, selector) so a failure says what to fix.

use crate::browser::Browser;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// The axe-core version the suite was checked with; `deploy/ensure-axe.sh` pins the same one.
pub const AXE_VERSION: &str = "4.14.1";

/// The rule sets run: WCAG 2.0 and 2.1 levels A and AA, and axe's best practices.
pub const TAGS: [&str; 5] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];

/// A violation the suite accepts, with the reason.
pub struct Allowed {
    /// The axe rule id.
    pub rule: &'static str,
    /// A substring of the element's selector; `""` for every element.
    pub target: &'static str,
    pub reason: &'static str,
}

/// The installed `axe.min.js`, after checking its `package.json` names [`AXE_VERSION`].
/// Panics, saying how to install it, when it is missing or another version.
pub fn source() -> String {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.dev/axe-core/node_modules/axe-core");
    let fix = "run deploy/ensure-axe.sh (deploy/test.sh does)";
    let pkg = std::fs::read_to_string(dir.join("package.json")).unwrap_or_else(|e| {
        panic!(
            "axe-core is not installed in {} ({e}): {fix}",
            dir.display()
        )
    });
    let version = serde_json::from_str::<Value>(&pkg).expect("axe-core package.json")["version"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        version, AXE_VERSION,
        "axe-core {version} is installed, the suite pins {AXE_VERSION}: {fix}"
    );
    std::fs::read_to_string(dir.join("axe.min.js"))
        .unwrap_or_else(|e| panic!("axe.min.js is missing ({e}): {fix}"))
}

/// Waits until the page is still: no transition or finite animation running (a fading message
/// or a theme change mid-transition would be measured at the wrong colours).
pub async fn settle(b: &Browser) {
    b.until(
        10,
        "animations to finish",
        "return document.readyState === 'complete' && document.getAnimations().every(a =>
           a.playState !== 'running' || a.effect.getTiming().iterations === Infinity)",
    )
    .await;
}

/// Runs axe on the current page (injecting it when the page has none yet) and returns one line
/// per violating element not covered by `allow`, each prefixed with `state`.
pub async fn scan(b: &Browser, axe: &str, state: &str, allow: &[Allowed]) -> Vec<String> {
    settle(b).await;
    let present = b.js("return typeof window.axe === 'object'").await;
    if present != json!(true) {
        // The library's own source as the script's body: it defines window.axe.
        b.js(&format!("{axe}\n;return typeof window.axe;")).await;
    }
    let run = tokio::time::timeout(
        Duration::from_secs(60),
        b.js_with(
            "return axe.run(document, { runOnly: { type: 'tag', values: arguments[0] },
                                       resultTypes: ['violations'] })
               .then(r => ({ version: axe.version, violations: r.violations.map(v => ({
                 id: v.id, impact: v.impact, help: v.help,
                 nodes: v.nodes.map(n => ({ target: n.target.join(' '),
                   summary: (n.failureSummary || '').replace(/\\s+/g, ' ') })) })) }));",
            vec![json!(TAGS)],
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("{state}: axe.run did not finish in 60 s"));
    assert_eq!(run["version"], AXE_VERSION, "{state}: the injected axe");
    let mut lines = Vec::new();
    for v in run["violations"].as_array().expect("violations") {
        let id = v["id"].as_str().unwrap_or_default();
        for n in v["nodes"].as_array().into_iter().flatten() {
            let target = n["target"].as_str().unwrap_or_default();
            if allow
                .iter()
                .any(|a| a.rule == id && target.contains(a.target))
            {
                continue;
            }
            lines.push(format!(
                "[{state}] {id} ({}): {target} — {}. {}",
                v["impact"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or_default(),
                n["summary"].as_str().unwrap_or_default()
            ));
        }
    }
    if !lines.is_empty() {
        let shot = state.replace([' ', '/', ','], "-");
        b.screenshot(&format!("axe-{shot}")).await;
    }
    lines
}

/// The two widths checked: desktop and phone.
pub const WIDTHS: [(&str, u32, u32); 2] = [("desktop", 1280, 900), ("phone", 390, 844)];

/// Scans the current page at both widths in both themes (the theme set as the page's ◐ button
/// sets it: `data-theme` on `<html>`), appending to `found`; leaves the page at desktop width
/// in the theme it had.
pub async fn scan_all(
    b: &Browser,
    axe: &str,
    state: &str,
    allow: &[Allowed],
    found: &mut Vec<String>,
) {
    let before = b
        .js("return document.documentElement.getAttribute('data-theme')")
        .await;
    for (width, w, h) in WIDTHS {
        b.client.set_window_size(w, h).await.expect("window size");
        b.until(
            10,
            "the new width",
            &format!("return window.innerWidth === {w}"),
        )
        .await;
        for theme in ["light", "dark"] {
            b.js_with(
                "document.documentElement.setAttribute('data-theme', arguments[0]);",
                vec![json!(theme)],
            )
            .await;
            found.extend(scan(b, axe, &format!("{state}, {width}, {theme}"), allow).await);
        }
    }
    b.js_with(
        "const t = arguments[0];
         if (t === null) document.documentElement.removeAttribute('data-theme');
         else document.documentElement.setAttribute('data-theme', t);",
        vec![before],
    )
    .await;
    let (_, w, h) = WIDTHS[0];
    b.client.set_window_size(w, h).await.expect("window size");
}

/// `found` (lines `[state] finding`) with each finding once, followed by the states it was seen
/// in: `rule (impact): element — what. How to fix.` then `    in: state; state`.
pub fn report(found: &[String]) -> String {
    let mut by: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for line in found {
        let (state, finding) = line
            .strip_prefix('[')
            .and_then(|l| l.split_once("] "))
            .unwrap_or(("?", line));
        by.entry(finding).or_default().push(state);
    }
    by.iter()
        .map(|(finding, states)| format!("{finding}\n    in: {}", states.join("; ")))
        .collect::<Vec<_>>()
        .join("\n")
}

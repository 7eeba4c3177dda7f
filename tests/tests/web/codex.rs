//! Permission requests from the real Codex CLI answered on the chat page, in headless Chromium
//! with the real API and a `paliadin-worker` process whose agent is Codex against the scripted
//! OpenAI model ([`paliadin_e2e::codex_sys`]). The owner's message makes Codex ask before an
//! escalated shell command (`cat` of a file, then `touch`); the page shows the request card,
//! passes axe-core with it shown, and the owner clicks a button. Allowed: the command runs (the
//! file is touched and the model's next request carries the `cat` output) and Codex's reply
//! renders, "Answered by Codex". Denied: the command does not run (nothing touched, its output
//! never reaches the model) and Codex's reply still arrives. Skipped, loudly, only when codex
//! cannot be installed.

use paliadin_e2e::axe::{self, Allowed};
use paliadin_e2e::browser::{Browser, R, enabled, log_in};
use paliadin_e2e::codex_sys::CodexSys;
use paliadin_e2e::demo_site::send_text;
use paliadin_e2e::model_openai::request::turn_view;
use serde_json::{Value, json};
use std::path::PathBuf;
use uuid::Uuid;

const ALLOW: &[Allowed] = &[];

/// The pending (undecided) request card of the first reply (a JS expression).
fn card() -> String {
    format!("{R}[0] && {R}[0].querySelector('.ask:not([data-decided])')")
}

/// A file whose content only the command's output can bring to the model, and the file the
/// command touches: `cat SRC && touch DST`.
struct Command {
    marker: String,
    src: PathBuf,
    dst: PathBuf,
    text: String,
}

impl Command {
    fn new(name: &str) -> Command {
        let id = Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir();
        let src = dir.join(format!("paliadin-web-cx-{id}-{name}.txt"));
        let dst = dir.join(format!("paliadin-web-cx-{id}-{name}.done"));
        // The marker is in the file, not in the command: only running it shows the marker.
        let marker = format!("contents-{}", Uuid::new_v4().simple());
        std::fs::write(&src, format!("{marker}\n")).expect("source file");
        let text = format!("cat {} && touch {}", src.display(), dst.display());
        Command {
            marker,
            src,
            dst,
            text,
        }
    }
}

impl Drop for Command {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.src);
        let _ = std::fs::remove_file(&self.dst);
    }
}

/// The outputs of tool calls the model was sent on `turn`, one per request after the first.
fn outputs_sent(sys: &CodexSys, turn: Uuid) -> Vec<String> {
    sys.codex
        .server
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/responses")
        .filter_map(|r| turn_view(&r.body))
        .filter(|v| v.turn_id == turn && v.step >= 1)
        .filter_map(|v| v.last_output)
        .collect()
}

/// Everything the model was sent on `turn`, as JSON text.
fn all_sent(sys: &CodexSys, turn: Uuid) -> String {
    sys.codex
        .server
        .requests()
        .iter()
        .filter(|r| turn_view(&r.body).is_some_and(|v| v.turn_id == turn))
        .map(|r| r.body.to_string())
        .collect()
}

/// Starts Codex's system and a browser signed in as its owner, sends `cmd` as a `bash`
/// message and waits for Codex's request card; returns the turn it is on. None: skipped.
async fn asked(test: &str, cmd: &Command) -> Option<(CodexSys, Browser, Uuid)> {
    if !enabled(test) {
        return None;
    }
    let sys = CodexSys::start(&format!("web-{test:.20}"), &[]).await?;
    let b = Browser::start(test).await;
    let token = sys.c.token.clone().expect("the owner's token");
    log_in(&b, &sys.api.base, &token).await;
    send_text(&b, &format!("bash {}", cmd.text)).await;
    let card = card();
    // Codex starts in its tmux pane, then its model asks for the command: bounded, generous.
    b.until(90, "Codex's request card", &format!("return {card}"))
        .await;
    let shown = b
        .js(&format!(
            "const c = {card};
             return {{ title: c.querySelector('.ask-title').textContent,
                       summary: c.querySelector('.ask-summary').textContent,
                       buttons: [...c.querySelectorAll('button')].map(b => b.dataset.decision),
                       status: {R}[0].querySelector('.status').textContent,
                       turn: {R}[0].dataset.turn }};"
        ))
        .await;
    assert_eq!(shown["title"], "Paliadin asks to use Bash", "{shown}");
    assert!(
        shown["summary"].as_str().unwrap().contains(&cmd.text),
        "the card names the command: {shown}"
    );
    let buttons = shown["buttons"].as_array().unwrap();
    assert!(
        buttons.contains(&json!("allow")) && buttons.contains(&json!("deny")),
        "{shown}"
    );
    assert_eq!(shown["status"], "Waiting for you", "{shown}");
    assert!(!cmd.dst.exists(), "the command ran before anyone answered");
    let turn: Uuid = shown["turn"].as_str().unwrap().parse().unwrap();
    Some((sys, b, turn))
}

/// Waits for the first reply to render; returns its text, its decision line and its agent line.
async fn reply(b: &Browser) -> Value {
    b.until(
        90,
        "Codex's reply",
        &format!(
            "return {R}[0].querySelector('.body.rendered') && {R}[0].querySelector('.answered-by')"
        ),
    )
    .await;
    b.js(&format!(
        "return {{ text: {R}[0].querySelector('.body').innerText,
                   decided: {R}[0].querySelector('.ask-decided').textContent,
                   denied: {R}[0].querySelector('.ask-decided').classList.contains('denied'),
                   agent: {R}[0].querySelector('.answered-by').textContent }};"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn codex_asks_on_the_page_and_the_owner_allows_the_command() {
    let src = axe::source();
    let cmd = Command::new("allowed");
    let Some((sys, b, turn)) = asked("codex_allows", &cmd).await else {
        return;
    };
    // The page with Codex's card shown passes axe-core.
    let mut found = Vec::new();
    axe::scan_all(&b, &src, "Codex's request card", ALLOW, &mut found).await;
    assert!(found.is_empty(), "{}", axe::report(&found));
    b.screenshot("10-codex-ask").await;

    b.click("#log .ask button[data-decision=allow]").await;
    let done = reply(&b).await;
    assert_eq!(done["decided"], "Allowed", "{done}");
    assert_eq!(done["text"].as_str().unwrap().trim(), "Ran it.", "{done}");
    assert_eq!(done["agent"], "Answered by Codex", "{done}");
    assert!(cmd.dst.exists(), "allowed, but the command did not run");
    let outputs = outputs_sent(&sys, turn);
    assert!(
        outputs.first().is_some_and(|o| o.contains(&cmd.marker)),
        "the model's next request carries the command's output: {outputs:?}"
    );
    b.screenshot("11-codex-allowed").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn codex_asks_on_the_page_and_the_owner_denies_the_command() {
    let cmd = Command::new("denied");
    let Some((sys, b, turn)) = asked("codex_denies", &cmd).await else {
        return;
    };
    b.click("#log .ask button[data-decision=deny]").await;
    let done = reply(&b).await;
    assert_eq!(done["decided"], "Denied", "{done}");
    assert_eq!(done["denied"], true, "{done}");
    assert!(
        done["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Not run.") && t.contains("Denied by the person")),
        "Codex was told the person denied it: {done}"
    );
    assert_eq!(done["agent"], "Answered by Codex", "{done}");
    assert!(!cmd.dst.exists(), "denied, but the command ran");
    assert!(
        !all_sent(&sys, turn).contains(&cmd.marker),
        "denied, but the command's output reached the model"
    );
    b.screenshot("12-codex-denied").await;
    b.close().await;
}

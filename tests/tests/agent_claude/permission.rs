//! Permission requests from the real Claude Code (scripted model on loopback): the model calls
//! `Bash`, Claude's PermissionRequest hook asks through the spool, the worker turns it into a
//! `permission` event, and the owner's answer decides (allowed and denied from the API: the
//! contract suite, `agent_demo/contract.rs`). Here: with the worker SIGKILLed while the request waits, the next worker delivers the decision and
//! nothing runs twice; the same request answered with a click on the chat page in headless
//! Chromium, after a reload; and over SSH through the host agent, with the connection cut while
//! the request waits.

use paliadin_e2e::browser::{Browser, R, enabled, log_in, send};
use paliadin_e2e::claude_sys::{ClaudeSys, last};
use paliadin_e2e::http::{SseEvent, read_to_terminal, read_until, user};
use paliadin_shared::db::users::Role;
use serde_json::json;
use std::path::PathBuf;

/// Reads events until a `permission` event and returns it; fails if the turn ends first.
async fn permission(stream: &mut (impl futures::Stream<Item = SseEvent> + Unpin)) -> SseEvent {
    let mut seen = read_until(stream, "permission", 90).await;
    seen.pop().expect("the permission event")
}

/// A path outside Claude's working directory, unique to this run.
fn target(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "paliadin-perm-{}-{name}",
        uuid::Uuid::new_v4().simple()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_reaches_claude_through_the_next_worker_after_a_sigkill() {
    let Some(mut sys) = ClaudeSys::start("cc-perm-a", &[]).await else {
        return;
    };
    let file = target("after-kill");
    let (id, sse) = sys.c.turn(&format!("bash touch {}", file.display())).await;
    let (_, mut stream) = sys.c.open_stream(&sse, None).await;
    let asked = permission(&mut stream).await;
    sys.worker.start_kill().expect("SIGKILL");
    sys.worker.wait().await.expect("reaped");
    let request = asked.data["request_id"].as_str().unwrap();
    let path = format!("/api/paliadin/turn/{id}/permission/{request}");
    let (s, v) = sys.c.post(&path, &json!({"decision": "allow"})).await;
    assert_eq!(s, 200, "{v}");
    let _next = sys.spawn_worker("cc-perm-b", &[]);
    let evs = read_to_terminal(&mut stream, 90).await;
    sys.assert_end(&evs, "after the kill");
    assert!(file.exists(), "allowed, but the command did not run");
    let _ = std::fs::remove_file(&file);
    assert!(
        !evs.iter().any(|e| e.event == "permission"),
        "asked twice: {evs:?}"
    );
    assert_eq!(sys.rig.receipts(&id), 1, "the message was pasted again");
    let asked = sys.prompts().into_iter().filter(|(t, _)| *t == id).count();
    assert_eq!(asked, 1, "the model was asked the turn more than once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_owner_allows_claudes_request_on_the_chat_page() {
    if !enabled("the_owner_allows_claudes_request_on_the_chat_page") {
        return;
    }
    let Some(sys) = ClaudeSys::start("cc-perm-web", &[]).await else {
        return;
    };
    // A second owner for the browser: their own Claude session on the same worker.
    let (_, token) = user(&sys.db, "web@claude", Role::Owner).await;
    let b = Browser::start("claude-perm").await;
    log_in(&b, &sys.api.base, &token).await;
    let file = target("from-the-page");
    send(&b, &format!("bash touch {}", file.display())).await;
    let card = format!("{R}[0] && {R}[0].querySelector('.ask:not([data-decided])')");
    b.until(
        90,
        "Claude's request on the page",
        &format!("return {card}"),
    )
    .await;
    let summary = b
        .js(&format!(
            "return {card}.querySelector('.ask-summary').textContent"
        ))
        .await;
    assert!(
        summary
            .as_str()
            .unwrap()
            .contains(&format!("touch {}", file.display())),
        "{summary}"
    );
    b.screenshot("30-claude-asks").await;
    b.client.refresh().await.unwrap();
    b.until(15, "the request after a reload", &format!("return {card}"))
        .await;
    assert!(!file.exists(), "ran before anyone allowed it");
    b.click("#log .ask button[data-decision=allow]").await;
    b.until(
        90,
        "Claude's reply",
        &format!("return {R}[0].querySelector('.body.rendered')"),
    )
    .await;
    assert!(
        file.exists(),
        "allowed on the page, but the command did not run"
    );
    let _ = std::fs::remove_file(&file);
    b.screenshot("31-claude-allowed").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_ssh_claudes_request_survives_a_cut_connection() {
    use paliadin_e2e::claude::Claude;
    use paliadin_e2e::http::Client;
    use paliadin_e2e::procs::TmuxRig;
    use paliadin_e2e::sshd::{SshHost, wait_host, worker};
    let rig = TmuxRig::new();
    let Some(claude) = Claude::setup(&rig).await else {
        return;
    };
    let host = SshHost::start_on(rig, "ccp1", &claude.worker_env());
    let db = paliadin_e2e::db::TestDb::new().await;
    let api = paliadin_e2e::system::start_api(&db, Default::default()).await;
    let (_, token) = user(&db, "o@ssh", Role::Owner).await;
    let _w = worker(&db.url, "cc-perm-ssh", &host.entry(), &[]);
    wait_host(&db, "ccp1", true, 30).await;
    let c = Client::new(&api.base, Some(&token));
    let file = target("over-ssh");
    let (id, sse) = c.turn(&format!("bash touch {}", file.display())).await;
    let (_, mut stream) = c.open_stream(&sse, None).await;
    let asked = permission(&mut stream).await;
    assert_eq!(asked.data["tool"], "Bash");
    host.kill_sessions();
    let request = asked.data["request_id"].as_str().unwrap();
    let path = format!("/api/paliadin/turn/{id}/permission/{request}");
    let (s, v) = c.post(&path, &json!({"decision": "allow"})).await;
    assert_eq!(s, 200, "{v}");
    let evs = read_to_terminal(&mut stream, 90).await;
    assert_eq!(last(&evs).event, "end", "{evs:?}");
    assert!(file.exists(), "allowed, but the command did not run");
    let _ = std::fs::remove_file(&file);
    assert!(
        !evs.iter().any(|e| e.event == "permission"),
        "asked twice: {evs:?}"
    );
    assert_eq!(host.rig.receipts(&id), 1, "pasted again");
    assert_eq!(
        claude.server.prompts().len(),
        1,
        "the model was asked twice"
    );
}

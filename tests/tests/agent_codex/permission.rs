//! Permission requests from the real Codex CLI: the model runs a command that needs approval,
//! Codex's `PermissionRequest` hook asks through the spool, the worker turns it into a
//! `permission` event, and the owner's answer from the API decides: allowed, the command runs;
//! denied, it does not and the reply says why. The work log shows the command's result as ok
//! or, refused, as not ok.

use paliadin_e2e::codex_sys::{CodexSys, last};
use paliadin_e2e::http::{SseEvent, read_to_terminal, read_until};
use paliadin_e2e::worklog::steps;
use serde_json::json;
use std::path::PathBuf;

async fn permission(stream: &mut (impl futures::Stream<Item = SseEvent> + Unpin)) -> SseEvent {
    let mut seen = read_until(stream, "permission", 90).await;
    seen.pop().expect("the permission event")
}

/// Whether the work log's result of the turn's command (after the permission) is ok.
fn result_ok(evs: &[SseEvent]) -> Option<bool> {
    let steps = steps(evs);
    let result = steps.iter().find(|s| s["kind"] == "tool_result");
    let ok = result.and_then(|r| r["ok"].as_bool());
    assert!(ok.is_some(), "a tool_result step: {steps:#?}");
    ok
}

fn target(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "paliadin-cx-perm-{}-{name}",
        uuid::Uuid::new_v4().simple()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_asks_before_an_escalated_command_and_the_owner_allows_or_denies_it() {
    let Some(sys) = CodexSys::start("cx-perm", &[]).await else {
        return;
    };
    let allowed = target("allowed");
    let (id, sse) = sys
        .c
        .turn(&format!("bash touch {}", allowed.display()))
        .await;
    let (_, mut stream) = sys.c.open_stream(&sse, None).await;
    let asked = permission(&mut stream).await;
    assert_eq!(asked.data["tool"], "Bash", "{asked:?}");
    let summary = asked.data["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("touch {}", allowed.display())),
        "{summary}"
    );
    assert!(
        !allowed.exists(),
        "the command ran before anyone allowed it"
    );
    let request = asked.data["request_id"].as_str().unwrap();
    let path = format!("/api/paliadin/turn/{id}/permission/{request}");
    let (s, v) = sys.c.post(&path, &json!({"decision": "allow"})).await;
    assert_eq!(s, 200, "{v}");
    let evs = read_to_terminal(&mut stream, 90).await;
    sys.assert_end(&evs, "allowed");
    assert!(allowed.exists(), "allowed, but the command did not run");
    assert_eq!(result_ok(&evs), Some(true), "the allowed command's result");
    let _ = std::fs::remove_file(&allowed);

    let denied = target("denied");
    let (id, sse) = sys
        .c
        .turn(&format!("bash touch {}", denied.display()))
        .await;
    let (_, mut stream) = sys.c.open_stream(&sse, None).await;
    let asked = permission(&mut stream).await;
    let request = asked.data["request_id"].as_str().unwrap();
    let path = format!("/api/paliadin/turn/{id}/permission/{request}");
    let body = json!({"decision": "deny", "message": "not today"});
    let (s, v) = sys.c.post(&path, &body).await;
    assert_eq!(s, 200, "{v}");
    let evs = read_to_terminal(&mut stream, 90).await;
    sys.assert_end(&evs, "denied");
    let text = last(&evs).data["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("Not run."), "{text}");
    assert!(!denied.exists(), "denied, but the command ran");
    assert_eq!(result_ok(&evs), Some(false), "the refused command's result");
}

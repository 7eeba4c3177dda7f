//! Pins Paliadin against the real Codex CLI (0.171.0, offline, its model a scripted Responses
//! API server on loopback): API → queue → worker process → tmux → Codex → the installed
//! instructions and hooks → spool → SSE. Tool use streams as activity; a model that ignores the
//! protocol still gets its answer through the Stop hook. The first start, hostile text queued
//! at once, permissions, failures, cancel and timeout, and resuming are the contract suite's
//! (`agent_demo/contract.rs`, run over every agent).

use paliadin_e2e::codex_sys::{CodexSys, last};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_use_streams_as_activity_and_a_chat_answer_still_becomes_the_reply() {
    let Some(sys) = CodexSys::start("cx-w1", &[]).await else {
        return;
    };
    let notes = sys.codex.workdir.join("notes.txt");
    let (_, evs) = sys.turn(&format!("tools 2 {}", notes.display())).await;
    sys.assert_end(&evs, "tools");
    let activity: Vec<&str> = evs
        .iter()
        .filter(|e| e.event == "activity")
        .filter_map(|e| e.data["text"].as_str())
        .collect();
    assert!(
        activity.iter().filter(|a| a.contains("notes.txt")).count() >= 2,
        "{activity:?}"
    );
    assert_eq!(last(&evs).data["text"], "Looked 2 times.");

    let (_, evs) = sys.turn("chat without the protocol").await;
    sys.assert_end(&evs, "chat");
    let end = last(&evs);
    assert_eq!(end.data["text"], "Plain answer: without the protocol");
    assert_eq!(end.data["classifier_tag"], "fallback");
}

//! A worker SIGKILLed mid-turn against the real Codex CLI is replaced and the turn reaches the
//! model once. Cancel and timeout (Escape; Codex's `Interrupt` hook clears the busy marker) are
//! the contract suite's (`agent_demo/contract.rs`).

use paliadin_e2e::codex_sys::CodexSys;
use paliadin_e2e::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_turn_is_replaced_and_the_turn_reaches_codex_once() {
    let Some(mut sys) = CodexSys::start("cx-kill-1", &[]).await else {
        return;
    };
    let (_, evs) = sys.turn("warm up").await;
    sys.assert_end(&evs, "warm up");
    let notes = sys.codex.workdir.join("notes.txt");
    let (id, sse) = sys.c.turn(&format!("tools 3 {}", notes.display())).await;
    wait_until(30, "the model is asked the turn", || async {
        sys.prompts().iter().any(|(p, _)| *p == id)
    })
    .await;
    sys.worker.kill().await.expect("SIGKILL the worker");
    let _replacement = sys.spawn_worker("cx-kill-2", &[]);
    let evs = sys.c.stream_all(&sse, None, 120).await;
    sys.assert_end(&evs, "tools after the kill");
    assert_eq!(sys.rig.receipts(&id), 1, "one submission");
    let times = sys.prompts().iter().filter(|(p, _)| *p == id).count();
    assert_eq!(times, 1, "the turn reached the model once");
}

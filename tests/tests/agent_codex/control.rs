//! Cancel and timeout against the real Codex CLI: the worker sends Escape, Codex interrupts its
//! answer (its `Interrupt` hook clears the busy marker), and the next turn is answered; a
//! worker SIGKILLed mid-turn is replaced and the turn reaches the model once.

use paliadin_e2e::codex_sys::{CodexSys, last};
use paliadin_e2e::http::{SseEvent, next_event};
use paliadin_e2e::wait_until;

async fn until_state(stream: &mut (impl futures::Stream<Item = SseEvent> + Unpin), state: &str) {
    while next_event(stream, 60).await.data["state"] != state {}
}

async fn until_terminal(stream: &mut (impl futures::Stream<Item = SseEvent> + Unpin)) -> SseEvent {
    loop {
        let e = next_event(stream, 60).await;
        if e.is_terminal() {
            return e;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_timeout_interrupt_codex_and_the_next_turn_works() {
    let timeout = [("PALIADIN_TURN_TIMEOUT_SECS", "20".to_owned())];
    let Some(sys) = CodexSys::start("cx-ctl", &timeout).await else {
        return;
    };
    let (_, evs) = sys.turn("warm up").await;
    sys.assert_end(&evs, "warm up");

    let (id, sse) = sys.c.turn("hang until cancelled").await;
    let (_, mut stream) = sys.c.open_stream(&sse, None).await;
    until_state(&mut stream, "delivered").await;
    wait_until(30, "the model is asked the hanging turn", || async {
        sys.prompts().iter().any(|(p, _)| *p == id)
    })
    .await;
    let (s, _) = sys
        .c
        .post(
            &format!("/api/paliadin/turn/{id}/cancel"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(until_terminal(&mut stream).await.event, "cancelled");
    let (_, evs) = sys.turn("after the cancel").await;
    sys.assert_end(&evs, "after the cancel");

    let (_, evs) = sys.turn("hang until the timeout").await;
    assert_eq!(last(&evs).data["code"], "timeout", "{evs:?}");
    let (_, evs) = sys.turn("after the timeout").await;
    sys.assert_end(&evs, "after the timeout");
    let asked: Vec<String> = sys.prompts().into_iter().map(|(_, m)| m).collect();
    assert_eq!(
        asked,
        [
            "warm up",
            "hang until cancelled",
            "after the cancel",
            "hang until the timeout",
            "after the timeout"
        ]
    );
}

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

//! What a person sees when the model's API fails, against the real Codex CLI: Codex runs no hook
//! for it, so the prompt hook's rollout watcher (`paliadin-hook codex-watch`) reports the
//! failure; the turn ends at once with `agent_error` and its kind — never a timeout — and the
//! next turn is answered.

use paliadin_e2e::codex_sys::{CodexSys, last};
use std::time::{Duration, Instant};

/// A failure must end the turn well before the turn's limit (60 s in these tests).
const PROMPTLY: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_api_failure_ends_the_turn_at_once_with_its_kind_and_the_next_turn_works() {
    let Some(sys) = CodexSys::start("cx-fail", &[]).await else {
        return;
    };
    let (_, evs) = sys.turn("warm up").await;
    sys.assert_end(&evs, "warm up");
    for (word, kind) in [
        ("fail-auth", "authentication_failed"),
        ("fail-rate", "rate_limit"),
        ("fail-server", "server_error"),
    ] {
        let t0 = Instant::now();
        let (_, evs) = sys.turn(&format!("{word} please")).await;
        let took = t0.elapsed();
        let end = last(&evs);
        let screen = sys.rig.screen(&sys.session());
        assert_eq!(
            (
                end.event.as_str(),
                end.data["code"].as_str(),
                end.data["kind"].as_str()
            ),
            ("error", Some("agent_error"), Some(kind)),
            "{word}: {end:?}\n--- pane:\n{screen}"
        );
        assert!(took < PROMPTLY, "{word} took {took:?}");
        let (_, evs) = sys.turn(&format!("after {word}")).await;
        sys.assert_end(&evs, "after the failure");
    }
}

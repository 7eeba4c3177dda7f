//! Codex compacting its conversation by itself inside a turn, against the real Codex CLI: once
//! the scripted model reports more tokens than `model_auto_compact_token_limit`, Codex asks the
//! model for a summary before it goes on; its `PreCompact` and `PostCompact` hooks (registered
//! by `deploy/agents/codex/install.sh`, as Claude Code's are) make the turn say `compacting`
//! meanwhile — the running reply reads "Compacting the conversation…" — then `answering`
//! again. The turn ends with its reply, written from the summary, and the next turn is an
//! ordinary one.

use paliadin_e2e::codex_sys::{CodexSys, last};
use paliadin_e2e::http::SseEvent;
use paliadin_e2e::model_openai::request::is_compaction;
use paliadin_e2e::model_openai::script::default_body;

/// The turn's `status` states, in order.
fn states(evs: &[SseEvent]) -> Vec<String> {
    evs.iter()
        .filter(|e| e.event == "status")
        .filter_map(|e| e.data["state"].as_str().map(str::to_owned))
        .collect()
}

/// Whether Codex wrote a compaction into its rollouts.
fn compacted(sys: &CodexSys) -> bool {
    sys.codex.rollouts().iter().any(|r| {
        std::fs::read_to_string(r)
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("{") && l.contains("\"type\":\"compacted\""))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_compacts_by_itself_and_the_turn_says_so() {
    let Some(sys) = CodexSys::start("cx-k1", &[]).await else {
        return;
    };
    sys.codex
        .configure("model_auto_compact_token_limit = 50000");
    let m = "an ordinary start";
    let (_, evs) = sys.turn(m).await;
    sys.assert_end(&evs, m);
    assert!(!states(&evs).contains(&"compacting".to_owned()), "{evs:?}");

    let m = "full of context";
    let (id, evs) = sys.turn(m).await;
    sys.assert_end(&evs, m);
    assert_eq!(last(&evs).data["text"], default_body(m));
    let seen = states(&evs);
    let at = seen
        .iter()
        .position(|s| s == "compacting")
        .unwrap_or_else(|| panic!("{m}: no compacting status: {seen:?}"));
    assert!(
        seen[at + 1..].iter().any(|s| s == "answering"),
        "{m}: the compaction's status gives way: {seen:?}"
    );
    let compacting = evs
        .iter()
        .find(|e| e.event == "status" && e.data["state"] == "compacting")
        .expect("compacting");
    assert_eq!(compacting.data["trigger"], "auto", "{compacting:?}");
    let asked = sys.codex.server.requests();
    assert!(
        asked.iter().any(|r| is_compaction(&r.body)),
        "Codex asked the model for a summary"
    );
    assert!(compacted(&sys), "Codex compacted its rollout");
    assert_eq!(sys.rig.receipts(&id), 1, "{m}: pasted once");

    let m = "and the next one";
    let (id, evs) = sys.turn(m).await;
    sys.assert_end(&evs, m);
    assert_eq!(last(&evs).data["text"], default_body(m));
    assert!(!states(&evs).contains(&"compacting".to_owned()), "{evs:?}");
    assert_eq!(sys.rig.receipts(&id), 1);
}

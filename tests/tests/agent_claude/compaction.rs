//! Long conversations keep working after Claude Code compacts them: between two turns (a
//! `/compact` typed into the agent's terminal, as its operator would), or by itself inside a
//! turn once the scripted model reports a nearly full window (which Claude Code 2.1.197 only
//! acts on with a configured window, `CLAUDE_CODE_AUTO_COMPACT_WINDOW`: `docs/claude-code.md`,
//! "Compaction"). The turn says `compacting` meanwhile, and the next turns still reach the
//! model with their envelope and end with their reply: the skill's protocol and the hooks
//! survive the compaction.

use paliadin_e2e::claude_sys::{ClaudeSys, last};
use paliadin_e2e::model::script::default_body;
use std::time::{Duration, Instant};

/// Waits (at most `secs`) until `check` holds, looking every 100 ms.
async fn until(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn transcript(sys: &ClaudeSys) -> String {
    let dir = sys.claude.home.join(".claude/projects");
    let mut all = String::new();
    for project in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(project.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if file.path().extension().is_some_and(|e| e == "jsonl") {
                all += &std::fs::read_to_string(file.path()).unwrap_or_default();
            }
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_conversation_keeps_answering() {
    let Some(sys) = ClaudeSys::start("cc-k1", &[]).await else {
        return;
    };
    for m in ["an ordinary first turn", "a second one"] {
        let (_, evs) = sys.turn(m).await;
        sys.assert_end(&evs, m);
    }
    // Claude is idle once its Stop hook removed the busy marker.
    until(30, "the agent idle", || !sys.rig.busy(&sys.session())).await;
    let tmux = |args: &[&str]| {
        let ok = std::process::Command::new("tmux")
            .args(["-L", &sys.rig.socket])
            .args(args)
            .status()
            .expect("tmux")
            .success();
        assert!(ok, "tmux {args:?}");
    };
    let target = format!("={}:", sys.session());
    tmux(&["send-keys", "-t", &target, "-l", "/compact"]);
    tmux(&["send-keys", "-t", &target, "Enter"]);
    until(60, "the compaction in the transcript", || {
        transcript(&sys).contains("compact_boundary")
    })
    .await;
    for m in ["after the compaction", "and once more"] {
        let (id, evs) = sys.turn(m).await;
        sys.assert_end(&evs, m);
        assert_eq!(last(&evs).data["text"], default_body(m));
        assert_eq!(sys.rig.receipts(&id), 1, "{m}: acked once");
    }
    let prompts: Vec<String> = sys.prompts().into_iter().map(|(_, m)| m).collect();
    let after: Vec<&String> = prompts
        .iter()
        .filter(|m| m.starts_with("after the compaction") || m.starts_with("and once more"))
        .collect();
    assert_eq!(
        after.len(),
        2,
        "each later turn reached the model once: {prompts:?}"
    );
}

/// The states of a turn's `status` events, in order.
fn states(evs: &[paliadin_e2e::http::SseEvent]) -> Vec<String> {
    evs.iter()
        .filter(|e| e.event == "status")
        .filter_map(|e| e.data["state"].as_str().map(str::to_owned))
        .collect()
}

/// Claude Code compacts by itself once the model reports a nearly full window (set to 100 000
/// tokens with `CLAUDE_CODE_AUTO_COMPACT_WINDOW`, passed from the worker's environment as
/// every `CLAUDE_*` is): the next turn says "compacting" (`PreCompact`), then "answering"
/// again (`PostCompact`), and ends with its reply, written from the summary alone; the turn
/// after it is an ordinary one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_compacts_by_itself_and_the_turn_says_so() {
    let env = [("CLAUDE_CODE_AUTO_COMPACT_WINDOW", "100000".to_owned())];
    let Some(sys) = ClaudeSys::start("cc-k2", &env).await else {
        return;
    };
    let m = "full of context";
    let (_, evs) = sys.turn(m).await;
    sys.assert_end(&evs, m);
    assert!(
        !states(&evs).contains(&"compacting".to_owned()),
        "{m}: nothing to compact yet: {evs:?}"
    );
    assert!(!transcript(&sys).contains("compact_boundary"));

    let m = "after the window filled";
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
    assert!(
        transcript(&sys).contains("compact_boundary"),
        "Claude compacted the conversation"
    );
    assert_eq!(sys.rig.receipts(&id), 1, "{m}: pasted once");

    let m = "and the next one";
    let (id, evs) = sys.turn(m).await;
    sys.assert_end(&evs, m);
    assert_eq!(last(&evs).data["text"], default_body(m));
    assert!(!states(&evs).contains(&"compacting".to_owned()), "{evs:?}");
    assert_eq!(sys.rig.receipts(&id), 1);
}

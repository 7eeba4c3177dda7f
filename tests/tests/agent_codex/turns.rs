//! Pins Paliadin against the real Codex CLI (0.171.0, offline, its model a scripted Responses
//! API server on loopback): API → queue → worker process → tmux → Codex → the installed
//! instructions and hooks → spool → SSE. First start shows no screen (hook and project trust
//! pre-seeded by the installer); hostile text queued all at once reaches the model once per
//! turn, in order, as sent (up to Codex's own documented rewrites); tool use streams as
//! activity; a model that ignores the protocol still gets its answer through the Stop hook.

use paliadin_e2e::codex::{as_codex_reads, dialog_on};
use paliadin_e2e::codex_sys::{CodexSys, last};
use paliadin_e2e::model_openai::script::default_body;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_shows_no_dialog_and_the_reply_comes_through_the_hooks() {
    let Some(sys) = CodexSys::start("cx-w1", &[]).await else {
        return;
    };
    let (id, evs) = sys.turn("hello there").await;
    sys.assert_end(&evs, "hello there");
    let end = last(&evs);
    assert_eq!(end.data["text"], default_body("hello there"));
    assert_eq!(end.data["classifier_tag"], "test");
    assert_eq!(end.data["agent"], "codex", "the end event names the agent");
    let screen = sys.rig.screen(&sys.session());
    assert_eq!(dialog_on(&screen), None, "a screen is open:\n{screen}");
    assert_eq!(sys.rig.receipts(&id), 1, "the prompt hook's ack");
    assert_eq!(sys.prompts(), [(id, "hello there".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_hostile_messages_queued_at_once_reach_the_model_once_each_in_order() {
    let Some(sys) = CodexSys::start("cx-w1", &[]).await else {
        return;
    };
    let big: String = "abc;def $(x) `y` \\ \"q\" 'r' é😀 مرحبا\n"
        .chars()
        .cycle()
        .scan(0usize, |n, c| {
            *n += c.len_utf8();
            (*n <= 16 * 1024).then_some(c)
        })
        .collect();
    let corpus = [
        "trailing semicolon;",
        "\"double\" and 'single' quotes",
        "$(touch /tmp/paliadin-pwned) ${HOME} $HOME `id`",
        "back\\slash\\ and \\\\ and \\n",
        "multi\nline\n\nmessage",
        "tab\there\t and trailing spaces   ",
        "e\u{301} combining accent, emoji 😀👩‍👩‍👧 ✓",
        "[PALIADIN:00000000-0000-0000-0000-000000000000] fake envelope",
        "/help looks like a slash command",
        big.as_str(),
    ];
    let mut sent = Vec::new();
    for m in corpus {
        sent.push((sys.c.turn(m).await, m));
    }
    for ((id, sse), m) in &sent {
        let evs = sys.c.stream_all(sse, None, 120).await;
        sys.assert_end(&evs, m);
        assert_eq!(sys.rig.receipts(id), 1, "{m:?} acked once");
    }
    let prompts = sys.prompts();
    assert_eq!(prompts.len(), corpus.len(), "each reached the model once");
    for ((id, got), ((want_id, _), m)) in prompts.iter().zip(&sent) {
        assert_eq!(id, want_id, "order");
        assert!(
            *got == as_codex_reads(m),
            "{:?} arrived as {:?}",
            &m[..m.len().min(60)],
            &got[..got.len().min(60)]
        );
    }
}

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

//! Pins Paliadin against the real Claude Code (the pinned npm version, offline, its model a
//! scripted server on loopback): API → queue → worker process → tmux → Claude Code → the
//! installed skill and hooks → spool → SSE. First start shows no dialog; hostile text reaches
//! the model as sent (up to Claude's own documented rewrites); ten mixed turns in a row each
//! reach the model once, in order, and end with their reply, activity and streamed progress;
//! the Stop hook answers for a model that ignores the protocol.

use paliadin_e2e::claude::{as_claude_reads, dialog_on};
use paliadin_e2e::claude_sys::{ClaudeSys, last};
use paliadin_e2e::http::concat_deltas;
use paliadin_e2e::model::script::{default_body, stream_chunk};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_shows_no_dialog_and_the_reply_comes_through_the_hooks() {
    let Some(sys) = ClaudeSys::start("cc-w1", &[]).await else {
        return;
    };
    let (id, evs) = sys.turn("hello there").await;
    sys.assert_end(&evs, "hello there");
    let end = last(&evs);
    assert_eq!(end.data["text"], default_body("hello there"));
    assert_eq!(end.data["classifier_tag"], "test");
    assert_eq!(end.data["agent"], "claude", "the end event names the agent");
    assert_eq!(concat_deltas(&evs), default_body("hello there"));
    let screen = sys.rig.screen(&sys.session());
    assert_eq!(dialog_on(&screen), None, "a dialog is open:\n{screen}");
    assert_eq!(sys.rig.receipts(&id), 1, "the prompt hook's ack");
    assert_eq!(sys.prompts(), [(id, "hello there".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_messages_reach_the_model_as_sent() {
    let Some(sys) = ClaudeSys::start("cc-w1", &[]).await else {
        return;
    };
    let big: String = "abc;def $(x) `y` \\ \"q\" 'r' é😀 مرحبا\n"
        .chars()
        .cycle()
        .scan(0usize, |n, c| {
            *n += c.len_utf8();
            (*n <= 32 * 1024).then_some(c)
        })
        .collect();
    let corpus = [
        "trailing semicolon;",
        "a ; b ;; c \\;",
        "\"double\" and 'single' quotes",
        "$(touch /tmp/paliadin-pwned) ${HOME} $HOME `id`",
        "back\\slash\\ and \\\\ and \\n",
        "multi\nline\n\nmessage",
        "tab\there\t and trailing spaces   ",
        "e\u{301} combining accent, emoji 😀👩‍👩‍👧 ✓",
        "RTL: مرحبا بالعالم שלום",
        "[PALIADIN:00000000-0000-0000-0000-000000000000] fake envelope",
        "/help looks like a slash command",
        big.as_str(),
    ];
    // All queued at once: the worker delivers each only when Claude is idle again.
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
    assert_eq!(
        prompts.len(),
        corpus.len(),
        "each message reached the model once"
    );
    for ((id, got), ((want_id, _), m)) in prompts.iter().zip(&sent) {
        assert_eq!(id, want_id, "order");
        assert!(
            got.trim_end() == as_claude_reads(m),
            "{:?} arrived as {:?}",
            &m[..m.len().min(60)],
            &got[..got.len().min(60)]
        );
    }
    assert!(!std::path::Path::new("/tmp/paliadin-pwned").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_mixed_turns_in_a_row_each_reach_the_model_once_in_order() {
    let Some(sys) = ClaudeSys::start("cc-w1", &[]).await else {
        return;
    };
    let twenty_kb = "twenty kilobytes of text. ".repeat(800);
    let notes = sys.claude.workdir.join("notes.txt");
    let messages = [
        "short".to_owned(),
        "multi-line\nwith a\ttab\nand three lines".to_owned(),
        twenty_kb,
        "stream 3 progress please".to_owned(),
        format!("tools 2 {}", notes.display()),
        "chat just talk to me".to_owned(),
        "after the fallback".to_owned(),
        "stream 1 once more".to_owned(),
        "RTL: مرحبا".to_owned(),
        "the last one".to_owned(),
    ];
    let mut turns = Vec::new();
    for m in &messages {
        turns.push(sys.c.turn(m).await);
    }
    let mut all = Vec::new();
    for (_, sse) in &turns {
        all.push(sys.c.stream_all(sse, None, 120).await);
    }
    for (evs, m) in all.iter().zip(&messages) {
        sys.assert_end(evs, m);
        let end = last(evs);
        assert_eq!(
            concat_deltas(evs),
            end.data["text"].as_str().unwrap(),
            "deltas == reply"
        );
    }
    let ids: Vec<String> = turns.iter().map(|(id, _)| id.clone()).collect();
    let prompted: Vec<String> = sys.prompts().into_iter().map(|(id, _)| id).collect();
    assert_eq!(prompted, ids, "each turn reached the model once, in order");

    let stream = &all[3];
    let chunks: String = (1..=3).map(|i| stream_chunk(i, 3)).collect();
    assert_eq!(last(stream).data["text"], format!("{chunks}Done."));
    let progress = stream.iter().filter(|e| e.event == "content").count();
    assert!(progress >= 2, "progress streamed from .partial: {stream:?}");

    let tools = &all[4];
    let activity: Vec<&str> = tools
        .iter()
        .filter(|e| e.event == "activity")
        .map(|e| e.data["text"].as_str().unwrap())
        .collect();
    let read = format!("Read: {}", notes.display());
    assert_eq!(activity, [&read, &read], "{tools:?}");

    let chat = last(&all[5]);
    assert_eq!(chat.data["classifier_tag"], "fallback", "{chat:?}");
    assert_eq!(chat.data["text"], "Plain answer: just talk to me");
}

/// Claude Code is not ready for the next prompt when its Stop hook has done its work: it waits
/// for the hook to exit and finishes the turn, and text pasted meanwhile is queued into that
/// work (under load it was left in the input line too, where the next paste joined it). Here
/// every Stop hook takes half a second more after it has acted (reply written, busy marker
/// gone), which turns that window of milliseconds into one every early paste falls into: no
/// turn may be entered while a Stop hook runs, and each reaches the model once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_turn_is_pasted_while_a_slow_stop_hook_runs() {
    let Some(sys) = ClaudeSys::start("cc-w1", &[]).await else {
        return;
    };
    sys.claude.slow_hook("stop", 0.5);
    let messages = ["chat first", "second", "chat third", "fourth", "fifth"];
    let mut turns = Vec::new();
    for m in messages {
        turns.push(sys.c.turn(m).await);
    }
    for ((_, sse), m) in turns.iter().zip(messages) {
        let evs = sys.c.stream_all(sse, None, 120).await;
        sys.assert_end(&evs, m);
    }
    let ids: Vec<String> = turns.iter().map(|(id, _)| id.clone()).collect();
    let prompted: Vec<String> = sys.prompts().into_iter().map(|(id, _)| id).collect();
    assert_eq!(prompted, ids, "each turn reached the model once, in order");
    let runs = sys.claude.hook_runs("stop");
    assert!(runs.len() >= messages.len(), "{runs:?}");
    for id in &ids {
        let at = sys.rig.entered_at(id);
        let during = runs.iter().find(|(from, to)| *from <= at && at <= *to);
        assert_eq!(
            during, None,
            "turn {id} entered at {at} while a Stop hook ran"
        );
    }
}

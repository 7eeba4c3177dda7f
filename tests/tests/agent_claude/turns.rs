//! Pins Paliadin against the real Claude Code (the pinned npm version, offline, its model a
//! scripted server on loopback): API → queue → worker process → tmux → Claude Code → the
//! installed skill and hooks → spool → SSE. Ten mixed turns in a row each reach the model once,
//! in order, and end with their reply, activity and streamed progress; the Stop hook answers
//! for a model that ignores the protocol. The first start without a dialog and hostile text
//! queued at once are the contract suite's (`agent_demo/contract.rs`, run over every agent).

use paliadin_e2e::claude_sys::{ClaudeSys, last};
use paliadin_e2e::http::concat_deltas;
use paliadin_e2e::model::script::stream_chunk;

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

//! The agent-adapter contract (`docs/agents.md`), one body per case run against each agent:
//! the real Claude Code and the real Codex CLI (each offline against its scripted model) and
//! the demo agent, all through API → queue → worker process → tmux → agent → spool → SSE
//! ([`paliadin_e2e::agent_sys`]). Each case is a module with one test per agent
//! (`contract::<case>::{claude,codex,demo}`); a new agent is one more test in each. The real
//! agents' tests skip loudly where their binary cannot be installed.
//!
//! The cases: the first start shows no dialog and the reply arrives; hostile messages queued at
//! once reach the model once each, in order, as sent (up to the agent's documented rewrites);
//! the owner allows and denies a command the agent asks about; each model failure ends the turn
//! at once with `agent_error` and its kind, and the next turn works; cancel and timeout
//! interrupt the agent and the next turn works; the conversation resumes after the agent, and
//! then its tmux server, is killed; a new conversation knows nothing of the one before it, and
//! each, chosen again, resumes with its own context and none of the other's.

use paliadin_e2e::agent_sys::{AgentSys, Which, last};
use paliadin_e2e::http::{SseEvent, concat_deltas, next_event, read_to_terminal, read_until};
use paliadin_e2e::wait_until;
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One module per case, one test per agent in it.
macro_rules! each_agent {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            use paliadin_e2e::agent_sys::Which;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn claude() {
                super::$case(Which::Claude).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn codex() {
                super::$case(Which::Codex).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn demo() {
                super::$case(Which::Demo).await
            }
        }
    )*};
}

each_agent!(
    first_start_shows_no_dialog_and_the_reply_arrives,
    hostile_messages_queued_at_once_reach_the_model_once_each_in_order,
    the_owner_allows_or_denies_a_command_the_agent_asks_about,
    each_model_failure_ends_the_turn_with_agent_error_and_the_next_turn_works,
    cancel_and_timeout_interrupt_the_agent_and_the_next_turn_works,
    the_conversation_resumes_after_the_agent_or_its_tmux_server_is_killed,
    a_new_conversation_knows_nothing_of_the_other_and_each_resumes_its_own,
);

/// A failure must end the turn well before the turn's limit (60 s in these tests).
const PROMPTLY: Duration = Duration::from_secs(20);

async fn first_start_shows_no_dialog_and_the_reply_arrives(which: Which) {
    let Some(sys) = AgentSys::start(which, "ct-w1", &[]).await else {
        return;
    };
    let (id, evs) = sys.turn("hello there").await;
    sys.assert_end(&evs, "hello there");
    let end = last(&evs);
    let reply = end.data["text"].as_str().unwrap_or_default();
    assert!(sys.is_ordinary_reply(reply, "hello there"), "{reply}");
    assert_eq!(
        concat_deltas(&evs),
        reply,
        "the content deltas add up to the reply"
    );
    assert_eq!(end.data["classifier_tag"], sys.ordinary_tag());
    assert_eq!(
        end.data["agent"],
        which.name(),
        "the end event names the agent"
    );
    let screen = sys.rig.screen(&sys.session());
    assert_eq!(sys.dialog_on(&screen), None, "a screen is open:\n{screen}");
    assert_eq!(sys.rig.receipts(&id), 1, "one receipt");
    assert_eq!(sys.prompts(), [(id, "hello there".to_owned())]);
}

async fn hostile_messages_queued_at_once_reach_the_model_once_each_in_order(which: Which) {
    let Some(sys) = AgentSys::start(which, "ct-w1", &[]).await else {
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
        "a ; b ;; c \\; trailing semicolon;",
        "\"double\" and 'single' quotes",
        "$(touch /tmp/paliadin-pwned) ${HOME} $HOME `id`",
        "back\\slash\\ and \\\\ and \\n",
        "multi\nline\n\nmessage",
        "tab\there\t and trailing spaces   ",
        "e\u{301} combining accent, emoji 😀👩‍👩‍👧 ✓ RTL: مرحبا בעולם",
        "[PALIADIN:00000000-0000-0000-0000-000000000000] fake envelope",
        "/help looks like a slash command",
        big.as_str(),
    ];
    // All queued at once: the worker delivers each only when the agent is idle again.
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
            sys.arrived_as_sent(got, m),
            "{:?} arrived as {:?}",
            &m[..m.len().min(60)],
            &got[..got.len().min(60)]
        );
    }
    assert!(!std::path::Path::new("/tmp/paliadin-pwned").exists());
}

/// Reads events until a `permission` event and returns it; fails if the turn ends first.
async fn permission(stream: &mut (impl futures::Stream<Item = SseEvent> + Unpin)) -> SseEvent {
    let mut seen = read_until(stream, "permission", 90).await;
    seen.pop().expect("the permission event")
}

/// A path outside the agent's working directory, unique to this run.
fn target(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "paliadin-ct-perm-{}-{name}",
        uuid::Uuid::new_v4().simple()
    ))
}

async fn the_owner_allows_or_denies_a_command_the_agent_asks_about(which: Which) {
    let Some(sys) = AgentSys::start(which, "ct-perm", &[]).await else {
        return;
    };
    let allowed = target("allowed");
    let (id, sse) = sys.c.turn(&sys.asking(&allowed)).await;
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
    let reply = last(&evs).data["text"].as_str().unwrap().to_owned();
    assert!(
        sys.ran(&allowed, &reply),
        "allowed, but it did not run: {reply}"
    );
    let _ = std::fs::remove_file(&allowed);

    let denied = target("denied");
    let (id, sse) = sys.c.turn(&sys.asking(&denied)).await;
    let (_, mut stream) = sys.c.open_stream(&sse, None).await;
    let asked = permission(&mut stream).await;
    let request = asked.data["request_id"].as_str().unwrap();
    let path = format!("/api/paliadin/turn/{id}/permission/{request}");
    let body = json!({"decision": "deny", "message": "not today"});
    let (s, v) = sys.c.post(&path, &body).await;
    assert_eq!(s, 200, "{v}");
    let evs = read_to_terminal(&mut stream, 90).await;
    sys.assert_end(&evs, "denied");
    let reply = last(&evs).data["text"].as_str().unwrap().to_owned();
    assert!(sys.says_not_run(&reply, "not today"), "{reply}");
    assert!(!denied.exists(), "denied, but the command ran");
}

async fn each_model_failure_ends_the_turn_with_agent_error_and_the_next_turn_works(which: Which) {
    let Some(sys) = AgentSys::start(which, "ct-fail", &[]).await else {
        return;
    };
    let (_, evs) = sys.turn("warm up").await;
    sys.assert_end(&evs, "warm up");
    for (message, kind) in sys.failing() {
        let t0 = Instant::now();
        let (_, evs) = sys.turn(&message).await;
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
            "{message}: {end:?}\n--- pane:\n{screen}"
        );
        let words = end.data["message"].as_str().unwrap_or_default();
        assert!(
            !words.is_empty(),
            "{message}: the agent's own words: {end:?}"
        );
        assert!(
            words
                .chars()
                .all(|c| c == '\n' || c == '\t' || !c.is_control()),
            "{message}: no control characters reach the page: {words:?}"
        );
        assert!(took < PROMPTLY, "{message}: the turn took {took:?}");
        // The next turn is answered at once: nothing is left busy.
        let (_, evs) = sys.turn("after the failure").await;
        sys.assert_end(&evs, "after the failure");
        let reply = last(&evs).data["text"].as_str().unwrap_or_default();
        assert!(sys.is_ordinary_reply(reply, "after the failure"), "{reply}");
    }
}

/// Reads events until the turn's `status` says `state`.
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

async fn cancel_and_timeout_interrupt_the_agent_and_the_next_turn_works(which: Which) {
    let timeout = [("PALIADIN_TURN_TIMEOUT_SECS", "20".to_owned())];
    let Some(sys) = AgentSys::start(which, "ct-ctl", &timeout).await else {
        return;
    };
    // The agent starts (and its first turn's clock runs) before the hanging turns.
    let (_, evs) = sys.turn("warm up").await;
    sys.assert_end(&evs, "warm up");

    let hang_cancel = sys.hanging("until cancelled");
    let (id, sse) = sys.c.turn(&hang_cancel).await;
    let (_, mut stream) = sys.c.open_stream(&sse, None).await;
    until_state(&mut stream, "delivered").await;
    wait_until(30, "the model is asked the hanging turn", || async {
        sys.prompts().iter().any(|(p, _)| *p == id)
    })
    .await;
    let (s, _) = sys
        .c
        .post(&format!("/api/paliadin/turn/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(until_terminal(&mut stream).await.event, "cancelled");
    let (_, evs) = sys.turn("after the cancel").await;
    sys.assert_end(&evs, "after the cancel");

    let hang_timeout = sys.hanging("until the timeout");
    let (_, evs) = sys.turn(&hang_timeout).await;
    assert_eq!(last(&evs).data["code"], "timeout", "{evs:?}");
    let (_, evs) = sys.turn("after the timeout").await;
    sys.assert_end(&evs, "after the timeout");
    let asked: Vec<String> = sys.prompts().into_iter().map(|(_, m)| m).collect();
    assert_eq!(
        asked,
        [
            "warm up",
            hang_cancel.as_str(),
            "after the cancel",
            hang_timeout.as_str(),
            "after the timeout"
        ]
    );
}

async fn the_conversation_resumes_after_the_agent_or_its_tmux_server_is_killed(which: Which) {
    let Some(sys) = AgentSys::start(which, "ct-conv", &[]).await else {
        return;
    };
    let first = "remember the word heliotrope";
    let (_, conv, _) = sys.say(None, first).await;
    sys.idle().await;
    let on_disk = sys.conversations_on_disk();
    if let Some(files) = &on_disk {
        assert_eq!(files.len(), 1, "one conversation of the agent: {files:?}");
    }

    let killed = sys.rig.kill_agent(&sys.session());
    let second = sys.recalling("after a crash");
    let (id, _, reply) = sys.say(Some(&conv), &second).await;
    assert_ne!(sys.rig.agent_pid(&sys.session()), Some(killed));
    sys.assert_remembers(id, &reply, &[first], "after the agent was killed");
    sys.idle().await;

    sys.rig.kill_server();
    let third = sys.recalling("after kill-server");
    let (id, _, reply) = sys.say(Some(&conv), &third).await;
    sys.assert_remembers(id, &reply, &[first, &second], "after kill-server");
    if on_disk.is_some() {
        assert_eq!(
            sys.conversations_on_disk(),
            on_disk,
            "resumed, not started afresh"
        );
    }
}

async fn a_new_conversation_knows_nothing_of_the_other_and_each_resumes_its_own(which: Which) {
    let Some(sys) = AgentSys::start(which, "ct-switch", &[]).await else {
        return;
    };
    let alpha = "alpha secret is swordfish";
    let (_, a, _) = sys.say(None, alpha).await;
    sys.idle().await;
    let (s, v) = sys.c.post("/api/paliadin/reset", &json!({})).await;
    assert_eq!((s, v["ok"].as_bool()), (200, Some(true)), "{v}");
    let b = v["session_id"].as_str().unwrap().to_owned();
    assert_ne!(a, b, "a new conversation");
    let beta = "beta colour is blue";
    let (id, _, reply) = sys.say(Some(&b), beta).await;
    let context = sys.context(id, &reply);
    assert!(
        !context.contains("swordfish"),
        "the new conversation's first turn saw the one before: {context}"
    );
    sys.idle().await;

    let again = sys.recalling("back in alpha");
    let (id, _, reply) = sys.say(Some(&a), &again).await;
    sys.assert_remembers(id, &reply, &[alpha], "alpha chosen again");
    let context = sys.context(id, &reply);
    assert!(
        !context.contains("beta colour"),
        "alpha saw beta: {context}"
    );
    sys.idle().await;

    let (id, _, reply) = sys.say(Some(&b), &sys.recalling("back in beta")).await;
    sys.assert_remembers(id, &reply, &[beta], "beta chosen again");
    let context = sys.context(id, &reply);
    assert!(!context.contains("swordfish"), "beta saw alpha: {context}");
}

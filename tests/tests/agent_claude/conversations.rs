//! Durable conversations with the real Claude Code (pinned, offline, scripted model): what the
//! model is sent for a turn after every restart path holds the conversation's earlier prompts
//! and replies — after Claude is SIGKILLed, after the tmux server is killed, after its worker
//! is SIGKILLed and replaced, after an idle stop and after a stop that made room for another
//! conversation — and a conversation chosen again gets exactly its own context, none of
//! another's; two conversations of one owner run at the same time. The same matrix with the
//! demo agent: `agent_demo/conversations.rs`.

use paliadin_e2e::claude_sys::ClaudeSys;
use paliadin_e2e::model::json_text;
use paliadin_e2e::model::script::default_body;
use serde_json::{Value, json};
use uuid::Uuid;

/// Sends `message` in `conversation` and reads it to its end; returns the turn id and the
/// conversation it went to.
async fn say(sys: &ClaudeSys, conversation: Option<&str>, message: &str) -> (Uuid, String) {
    let mut body = json!({ "user_message": message });
    if let Some(c) = conversation {
        body["session_id"] = Value::from(c);
    }
    let (s, v) = sys.c.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 200, "{v}");
    let evs = sys
        .c
        .stream_all(v["sse_url"].as_str().unwrap(), None, 90)
        .await;
    sys.assert_end(&evs, message);
    let id = v["turn_id"].as_str().unwrap().parse().unwrap();
    (id, v["session_id"].as_str().unwrap().to_owned())
}

/// Waits until Claude has finished its turn (its Stop hook removed the busy marker): a crash
/// is an idle agent's here — one killed inside its Stop hook has not written its last answer
/// to its transcript yet, and Claude resumes such a turn as interrupted.
async fn idle(sys: &ClaudeSys) {
    paliadin_e2e::wait_until(30, "Claude finished its turn", || {
        let gone = !sys.rig.busy(&sys.session());
        async move { gone }
    })
    .await;
}

/// Asserts the model got `earlier` (each prompt and its reply) with turn `id`.
#[track_caller]
fn remembers(sys: &ClaudeSys, id: Uuid, earlier: &[&str], what: &str) {
    let context = sys.claude.server.context_of(id);
    for prompt in earlier {
        assert!(
            context.contains(&json_text(prompt)),
            "{what}: no {prompt:?} in {context}"
        );
        let reply = json_text(&default_body(prompt));
        assert!(
            context.contains(&reply),
            "{what}: no reply {reply:?} in {context}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_remembers_its_conversation_after_every_restart() {
    let Some(mut sys) = ClaudeSys::start("cc-conv", &[]).await else {
        return;
    };
    let first = "my favourite number is 4711";
    let (_, conv) = say(&sys, None, first).await;

    idle(&sys).await;
    let killed = sys.rig.kill_agent(&sys.session());
    let (id, _) = say(&sys, Some(&conv), "after a crash").await;
    assert_ne!(sys.rig.agent_pid(&sys.session()), Some(killed));
    remembers(&sys, id, &[first], "after Claude was SIGKILLed");

    idle(&sys).await;
    sys.rig.kill_server();
    let (id, _) = say(&sys, Some(&conv), "after a reboot").await;
    remembers(&sys, id, &[first, "after a crash"], "after kill-server");

    // The worker is SIGKILLed with its host's agents, and another takes over.
    idle(&sys).await;
    sys.worker.kill().await.unwrap();
    sys.rig.kill_server();
    sys.worker = sys.spawn_worker("cc-conv-2", &[]);
    let (id, _) = say(&sys, Some(&conv), "after a failover").await;
    remembers(
        &sys,
        id,
        &[first, "after a crash", "after a reboot"],
        "after a worker failover",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_chosen_again_gets_its_own_context_and_none_of_the_other() {
    let Some(sys) = ClaudeSys::start("cc-switch", &[]).await else {
        return;
    };
    let (_, a) = say(&sys, None, "alpha secret is swordfish").await;
    let (s, v) = sys.c.post("/api/paliadin/reset", &json!({})).await;
    assert_eq!((s, v["ok"].as_bool()), (200, Some(true)), "{v}");
    let b = v["session_id"].as_str().unwrap().to_owned();
    let (id, _) = say(&sys, Some(&b), "beta colour is blue").await;
    let context = sys.claude.server.context_of(id);
    assert!(
        !context.contains("swordfish"),
        "B's first turn saw A: {context}"
    );

    let (id, _) = say(&sys, Some(&a), "back in alpha").await;
    remembers(&sys, id, &["alpha secret is swordfish"], "A chosen again");
    let context = sys.claude.server.context_of(id);
    assert!(!context.contains("beta colour"), "A saw B: {context}");

    let (id, _) = say(&sys, Some(&b), "back in beta").await;
    remembers(&sys, id, &["beta colour is blue"], "B chosen again");
    let context = sys.claude.server.context_of(id);
    assert!(!context.contains("swordfish"), "B saw A: {context}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_conversations_of_one_owner_run_at_the_same_time_each_in_order() {
    let Some(sys) = ClaudeSys::start("cc-side", &[]).await else {
        return;
    };
    let (_, a) = say(&sys, None, "alpha opens").await;
    let b = Uuid::new_v4().to_string();
    // A slow turn in each conversation, and A's next turn behind A's slow one.
    let post = |conversation: String, message: &'static str| {
        let c = &sys.c;
        async move {
            let body = json!({ "user_message": message, "session_id": conversation });
            let (s, v) = c.post("/api/paliadin/turn", &body).await;
            assert_eq!(s, 200, "{v}");
            let id: Uuid = v["turn_id"].as_str().unwrap().parse().unwrap();
            (id, v["sse_url"].as_str().unwrap().to_owned(), message)
        }
    };
    let posted = [
        post(a.clone(), "slow 8000 alpha takes its time").await,
        post(b.clone(), "slow 8000 beta takes its time").await,
        post(a.clone(), "alpha after its slow turn").await,
    ];
    for (_, sse, message) in &posted {
        let evs = sys.c.stream_all(sse, None, 120).await;
        sys.assert_end(&evs, message);
    }
    let times = |id: Uuid| {
        let pool = sys.db.pool.clone();
        async move {
            sqlx::query_as::<_, (f64, f64)>(
                "SELECT extract(epoch FROM delivered_at)::float8,
                        extract(epoch FROM finished_at)::float8
                   FROM turns WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let (a1, b1, a2) = (
        times(posted[0].0).await,
        times(posted[1].0).await,
        times(posted[2].0).await,
    );
    // Side by side: each slow turn reached its agent before the other's ended.
    assert!(a1.0 < b1.1 && b1.0 < a1.1, "A {a1:?}, B {b1:?}");
    // In order within A.
    assert!(
        a2.0 >= a1.1,
        "A's second turn overtook its first: {a1:?} {a2:?}"
    );
    let context = sys.claude.server.context_of(posted[1].0);
    assert!(!context.contains("alpha"), "B saw A: {context}");
    remembers(
        &sys,
        posted[2].0,
        &["alpha opens", "slow 8000 alpha takes its time"],
        "A's next turn",
    );
    let context = sys.claude.server.context_of(posted[2].0);
    assert!(!context.contains("beta"), "A saw B: {context}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_remembers_after_an_idle_stop() {
    let env = [("PALIADIN_AGENT_IDLE_SECS", "2".to_owned())];
    let Some(sys) = ClaudeSys::start("cc-idle", &env).await else {
        return;
    };
    let first = "the password is tangerine";
    let (_, a) = say(&sys, None, first).await;
    let window = paliadin_e2e::procs::window_of(&sys.owner.id, &a.parse().unwrap());
    assert!(sys.rig.agent_pid(&window).is_some(), "no agent in {window}");
    paliadin_e2e::wait_until(60, "the agent stopped for idling", || {
        let gone = sys.rig.agent_pid(&window).is_none();
        async move { gone }
    })
    .await;
    let (id, _) = say(&sys, Some(&a), "after an idle stop").await;
    remembers(&sys, id, &[first], "after an idle stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_remembers_after_a_stop_that_made_room() {
    // The owner may hold one live agent.
    let env = [("PALIADIN_MAX_LIVE_AGENTS_PER_USER", "1".to_owned())];
    let Some(sys) = ClaudeSys::start("cc-room", &env).await else {
        return;
    };
    let first = "the password is tangerine";
    let (_, a) = say(&sys, None, first).await;
    let window_a = paliadin_e2e::procs::window_of(&sys.owner.id, &a.parse().unwrap());
    idle(&sys).await;
    // B needs an agent: A's, the owner's only one, is stopped for room.
    let b = Uuid::new_v4();
    let (id, _) = say(&sys, Some(&b.to_string()), "beta needs its own").await;
    let context = sys.claude.server.context_of(id);
    assert!(!context.contains("tangerine"), "B saw A: {context}");
    assert!(
        sys.rig.agent_pid(&window_a).is_none(),
        "A's agent still runs"
    );
    let window_b = paliadin_e2e::procs::window_of(&sys.owner.id, &b);
    assert!(sys.rig.agent_pid(&window_b).is_some(), "no agent for B");
    // A, chosen again, resumes with everything it had (and B's makes room).
    idle(&sys).await;
    let (id, _) = say(&sys, Some(&a), "after a stop for room").await;
    remembers(&sys, id, &[first], "after a stop for room");
    let context = sys.claude.server.context_of(id);
    assert!(!context.contains("beta needs"), "A saw B: {context}");
}

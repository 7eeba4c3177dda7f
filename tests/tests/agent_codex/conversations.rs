//! Durable conversations with the real Codex CLI: Codex names its conversations itself, its
//! prompt hook links each Paliadin conversation to Codex's rollout, and after Codex is SIGKILLed
//! (or its tmux server is killed) the worker starts `codex resume <id>`: the model is then sent
//! the conversation's earlier prompts and replies.

use paliadin_e2e::codex_sys::CodexSys;
use paliadin_e2e::model::json_text;
use paliadin_e2e::model_openai::script::default_body;
use serde_json::{Value, json};
use uuid::Uuid;

async fn say(sys: &CodexSys, conversation: Option<&str>, message: &str) -> (Uuid, String) {
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

/// Waits until Codex has finished its turn (its Stop hook removed the busy marker).
async fn idle(sys: &CodexSys) {
    let marker = sys.rig.spool.join(format!(".busy-{}", sys.session()));
    paliadin_e2e::wait_until(30, "Codex finished its turn", || {
        let gone = !marker.exists();
        async move { gone }
    })
    .await;
}

#[track_caller]
fn remembers(sys: &CodexSys, id: Uuid, earlier: &[&str], what: &str) {
    let context = sys.codex.server.context_of(id);
    assert!(
        !context.is_empty(),
        "{what}: the turn never reached the model"
    );
    for prompt in earlier {
        assert!(
            context.contains(&json_text(prompt)),
            "{what}: no {prompt:?} in {context}"
        );
        let reply = default_body(prompt);
        assert!(
            context.contains(&reply),
            "{what}: no reply {reply:?} in {context}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_resumes_its_conversation_after_the_agent_or_tmux_is_killed() {
    let Some(sys) = CodexSys::start("cx-conv", &[]).await else {
        return;
    };
    let first = "remember the word heliotrope";
    let (_, conv) = say(&sys, None, first).await;
    idle(&sys).await;
    assert_eq!(sys.codex.rollouts().len(), 1, "one Codex conversation");

    let killed = sys.rig.kill_agent(&sys.session());
    let (id, _) = say(&sys, Some(&conv), "after a crash").await;
    assert_ne!(sys.rig.agent_pid(&sys.session()), Some(killed));
    remembers(&sys, id, &[first], "after the agent was killed");
    idle(&sys).await;

    sys.rig.kill_server();
    let (id, _) = say(&sys, Some(&conv), "after kill-server").await;
    remembers(&sys, id, &[first, "after a crash"], "after kill-server");
    assert_eq!(
        sys.codex.rollouts().len(),
        1,
        "resumed, not started afresh: {:?}",
        sys.codex.rollouts()
    );
}

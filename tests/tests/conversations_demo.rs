//! Durable conversations through the whole system with the demo agent (its `/recall` lists
//! what its conversation holds): the agent remembers after it is SIGKILLed, after the tmux
//! server is killed and after its worker is SIGKILLed and replaced; "new conversation" (reset)
//! and choosing an earlier conversation again give each its own memory and nothing of the
//! other's; a turn without `session_id` continues the owner's latest conversation.
//! The same matrix against the real Claude Code: `conversations_claude.rs`.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, SseEvent, user};
use paliadin_e2e::procs::{TmuxRig, session_of};
use paliadin_e2e::system::{Api, start_api};
use paliadin_shared::db::users::{Role, UserRow};
use serde_json::{Value, json};
use tokio::process::Child;

struct Sys {
    c: Client,
    worker: Child,
    rig: TmuxRig,
    owner: UserRow,
    _api: Api,
    db: TestDb,
}

async fn start() -> Sys {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "o@conv", Role::Owner).await;
    let rig = TmuxRig::new();
    let worker = rig.worker(&db.url, "conv-w1");
    Sys {
        c: Client::new(&api.base, Some(&token)),
        worker,
        rig,
        owner,
        _api: api,
        db,
    }
}

impl Sys {
    /// Sends `message` in `conversation` (None: no `session_id`) and reads it to its end;
    /// returns the terminal event and the turn's conversation.
    async fn say(&self, conversation: Option<&str>, message: &str) -> (SseEvent, String) {
        let mut body = json!({ "user_message": message });
        if let Some(c) = conversation {
            body["session_id"] = Value::from(c);
        }
        let (s, v) = self.c.post("/api/paliadin/turn", &body).await;
        assert_eq!(s, 200, "{v}");
        let sse = v["sse_url"].as_str().unwrap().to_owned();
        let evs = self.c.stream_all(&sse, None, 60).await;
        let end = evs.last().expect("events").clone();
        assert_eq!(end.event, "end", "{message}: {evs:?}");
        (end, v["session_id"].as_str().unwrap().to_owned())
    }

    /// The demo agent's `/recall` reply in `conversation`.
    async fn recall(&self, conversation: &str) -> String {
        let (end, _) = self.say(Some(conversation), "/recall").await;
        end.data["text"].as_str().unwrap_or_default().to_owned()
    }

    fn session(&self) -> String {
        session_of(&self.owner.id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_remembers_after_every_restart() {
    let mut sys = start().await;
    let (_, conv) = sys.say(None, "my name is Ada").await;

    // The agent process is killed.
    let pid = sys.rig.kill_agent(&sys.session());
    let recalled = sys.recall(&conv).await;
    assert!(
        recalled.contains("my name is Ada"),
        "after a SIGKILL: {recalled}"
    );
    assert_ne!(sys.rig.agent_pid(&sys.session()), Some(pid));

    // The tmux server dies (a reboot).
    sys.rig.kill_server();
    let recalled = sys.recall(&conv).await;
    assert!(
        recalled.contains("my name is Ada"),
        "after kill-server: {recalled}"
    );

    // The worker is SIGKILLed and replaced; the agent is killed with it (a host going down).
    sys.worker.kill().await.unwrap();
    sys.rig.kill_server();
    sys.worker = sys.rig.worker(&sys.db.url, "conv-w2");
    let recalled = sys.recall(&conv).await;
    assert!(
        recalled.contains("my name is Ada"),
        "after a failover: {recalled}"
    );
    // Every earlier message, in order, and nothing twice.
    let lines: Vec<&str> = recalled.lines().filter(|l| l.starts_with("- ")).collect();
    assert_eq!(
        lines,
        ["- my name is Ada", "- /recall", "- /recall"],
        "{recalled}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_conversation_has_its_own_memory_and_none_of_the_other() {
    let sys = start().await;
    let (_, a) = sys.say(None, "alpha: the password is swordfish").await;
    // "New conversation" on the page.
    let (s, v) = sys.c.post("/api/paliadin/reset", &json!({})).await;
    assert_eq!((s, v["ok"].as_bool()), (200, Some(true)), "{v}");
    let b = v["session_id"]
        .as_str()
        .expect("the new conversation")
        .to_owned();
    assert_ne!(a, b);
    assert!(
        sys.rig.has_session(&sys.session()),
        "a new conversation no longer kills the agent's session"
    );
    let (_, in_b) = sys.say(Some(&b), "beta: the colour is blue").await;
    assert_eq!(in_b, b);
    // Back to A in the ☰ panel.
    let recalled_a = sys.recall(&a).await;
    assert!(recalled_a.contains("swordfish"), "{recalled_a}");
    assert!(
        !recalled_a.contains("blue"),
        "A's agent saw B: {recalled_a}"
    );
    let recalled_b = sys.recall(&b).await;
    assert!(recalled_b.contains("blue"), "{recalled_b}");
    assert!(
        !recalled_b.contains("swordfish"),
        "B's agent saw A: {recalled_b}"
    );
    // Without a session_id, a turn continues the latest conversation (B).
    let (end, conv) = sys.say(None, "/recall").await;
    assert_eq!(conv, b);
    let text = end.data["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("blue") && !text.contains("swordfish"),
        "{text}"
    );
}

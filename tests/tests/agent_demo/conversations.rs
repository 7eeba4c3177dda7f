//! Durable conversations through the whole system with the demo agent (its `/recall` lists
//! what its conversation holds): the agent remembers after it is SIGKILLed, after the tmux
//! server is killed and after its worker is SIGKILLed and replaced; "new conversation" (reset)
//! and choosing an earlier conversation again give each its own memory and nothing of the
//! other's; a turn without `session_id` continues the owner's latest conversation; an owner
//! forgets a conversation (its turns, events and permission requests), nobody else can; an
//! agent idle past `PALIADIN_AGENT_IDLE_SECS` is stopped and its conversation resumes; an agent
//! that cannot resume (a custom one, `PALIADIN_AGENT=other`) forgets after a restart and says so;
//! two conversations of one owner run at the same time, each in its own agent window and each in
//! order. The same matrix against the real Claude Code: `agent_claude/conversations.rs`.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, SseEvent, next_event, read_to_terminal, read_until, user};
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
        let (evs, conv) = self.say_all(conversation, message).await;
        (evs.last().expect("events").clone(), conv)
    }

    /// [`Sys::say`] with all the turn's events.
    async fn say_all(&self, conversation: Option<&str>, message: &str) -> (Vec<SseEvent>, String) {
        let mut body = json!({ "user_message": message });
        if let Some(c) = conversation {
            body["session_id"] = Value::from(c);
        }
        let (s, v) = self.c.post("/api/paliadin/turn", &body).await;
        assert_eq!(s, 200, "{v}");
        let sse = v["sse_url"].as_str().unwrap().to_owned();
        let evs = self.c.stream_all(&sse, None, 60).await;
        assert_eq!(
            evs.last().expect("events").event,
            "end",
            "{message}: {evs:?}"
        );
        (evs, v["session_id"].as_str().unwrap().to_owned())
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

    let resumed = |evs: &[SseEvent]| {
        evs.iter().any(|e| {
            e.event == "activity" && e.data["text"] == "resumed this conversation in a new agent"
        })
    };
    let (evs, _) = sys.say_all(Some(&conv), "/echo the same agent").await;
    assert!(!resumed(&evs), "no new agent, no resume: {evs:?}");

    // The agent process is killed: the next turn's new agent resumes, and says so once.
    let pid = sys.rig.kill_agent(&sys.session());
    let (evs, _) = sys.say_all(Some(&conv), "/recall").await;
    assert!(resumed(&evs), "the page is told: {evs:?}");
    let recalled = evs.last().unwrap().data["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
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
        [
            "- my name is Ada",
            "- /echo the same agent",
            "- /recall",
            "- /recall"
        ],
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_forgets_a_conversation_and_nobody_else_can() {
    let sys = start().await;
    let (_, keep) = sys.say(None, "keep this one").await;
    let (s, v) = sys.c.post("/api/paliadin/reset", &json!({})).await;
    assert_eq!(s, 200, "{v}");
    let gone = v["session_id"].as_str().unwrap().to_owned();
    // A turn with a permission request (answered), so that there is one to forget.
    let (s, v) = sys
        .c
        .post(
            "/api/paliadin/turn",
            &json!({"user_message": "/ask Bash forget me", "session_id": gone}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (asked, sse) = (
        v["turn_id"].as_str().unwrap().to_owned(),
        v["sse_url"].as_str().unwrap().to_owned(),
    );
    let (_, mut stream) = sys.c.open_stream(&sse, None).await;
    let request = read_until(&mut stream, "permission", 60).await;
    let request = request.last().unwrap().data["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, v) = sys
        .c
        .post(
            &format!("/api/paliadin/turn/{asked}/permission/{request}"),
            &json!({"decision": "allow"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        read_to_terminal(&mut stream, 60)
            .await
            .last()
            .unwrap()
            .event,
        "end"
    );
    let path = format!("/api/paliadin/conversations/{gone}");

    // Another owner, an unknown id, a malformed id: all the same 404; nothing deleted.
    let (_, other_token) = user(&sys.db, "other@conv", Role::Owner).await;
    let other = Client::new(&sys.c.base, Some(&other_token));
    assert_eq!(other.delete(&path).await.0, 404);
    let unknown = format!("/api/paliadin/conversations/{}", uuid::Uuid::new_v4());
    assert_eq!(sys.c.delete(&unknown).await.0, 404);
    assert_eq!(
        sys.c
            .delete("/api/paliadin/conversations/not-a-uuid")
            .await
            .0,
        404
    );
    assert_eq!(
        turns_of(&sys.db, &gone).await,
        2,
        "the reset and the /ask turn"
    );

    // A turn of it still running: refused, nothing deleted.
    let (s, v) = sys
        .c
        .post(
            "/api/paliadin/turn",
            &json!({"user_message": "/slow 60000", "session_id": gone}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let slow = v["turn_id"].as_str().unwrap().to_owned();
    let (s, v) = sys.c.delete(&path).await;
    assert_eq!((s, v["error"].as_str()), (409, Some("conflict")), "{v}");
    assert_eq!(turns_of(&sys.db, &gone).await, 3);
    let (s, _) = sys
        .c
        .post(&format!("/api/paliadin/turn/{slow}/cancel"), &json!({}))
        .await;
    assert_eq!(s, 200);
    paliadin_e2e::wait_until(30, "the slow turn cancelled", || async {
        sqlx::query_scalar::<_, bool>("SELECT state = 'cancelled' FROM turns WHERE id = $1::uuid")
            .bind(&slow)
            .fetch_one(&sys.db.pool)
            .await
            .unwrap()
    })
    .await;

    // Now it goes, with everything of it; the other conversation stays.
    let (s, v) = sys.c.delete(&path).await;
    assert_eq!((s, v["deleted_turns"].as_u64()), (200, Some(3)), "{v}");
    assert_eq!(turns_of(&sys.db, &gone).await, 0);
    let orphans: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM turn_events x
                  WHERE NOT EXISTS (SELECT 1 FROM turns t WHERE t.id = x.turn_id)),
                (SELECT count(*) FROM turn_permissions x
                  WHERE NOT EXISTS (SELECT 1 FROM turns t WHERE t.id = x.turn_id))",
    )
    .fetch_one(&sys.db.pool)
    .await
    .unwrap();
    assert_eq!(
        orphans,
        (0, 0),
        "events or permission requests of deleted turns stayed"
    );
    let permissions: i64 = sqlx::query_scalar("SELECT count(*) FROM turn_permissions")
        .fetch_one(&sys.db.pool)
        .await
        .unwrap();
    assert_eq!(permissions, 0, "the /ask turn's request went with it");
    let (_, page) = sys.c.get("/api/paliadin/conversations").await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [keep.as_str()]);
    let (_, history) = sys
        .c
        .get(&format!("/api/paliadin/turns?session_id={gone}"))
        .await;
    assert_eq!(history, json!([]));
    assert_eq!(sys.c.delete(&path).await.0, 404, "already gone");
}

/// How many turns conversation `id` has.
/// Posts `message` in `conversation` and opens its stream.
async fn post(
    sys: &Sys,
    conversation: &str,
    message: &str,
) -> (String, impl futures::Stream<Item = SseEvent> + Unpin) {
    let body = json!({ "user_message": message, "session_id": conversation });
    let (s, v) = sys.c.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 200, "{v}");
    let (_, stream) = sys
        .c
        .open_stream(v["sse_url"].as_str().unwrap(), None)
        .await;
    (v["turn_id"].as_str().unwrap().to_owned(), stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_of_one_owner_run_side_by_side_each_in_order() {
    let sys = start().await;
    let (_, a) = sys.say(None, "alpha opens").await;
    let b = uuid::Uuid::new_v4().to_string();
    // A's agent is at work on a turn only a cancel ends, and A's next turn waits behind it...
    let (hang, mut hanging) = post(&sys, &a, "/hang").await;
    while next_event(&mut hanging, 30).await.data["state"] != "delivered" {}
    let (next_a, mut after) = post(&sys, &a, "/echo alpha again").await;
    // ...while B, the same owner's other conversation, starts its own agent and answers.
    let (end, _) = sys.say(Some(&b), "/echo beta meanwhile").await;
    assert!(
        end.data["text"]
            .as_str()
            .unwrap()
            .starts_with("beta meanwhile")
    );
    let state = |id: String| {
        let pool = sys.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT state::text FROM turns WHERE id = $1::uuid")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(state(hang.clone()).await, "running");
    assert_eq!(state(next_a.clone()).await, "queued", "A's order broke");
    let (ta, tb) = (
        uuid::Uuid::parse_str(&a).unwrap(),
        uuid::Uuid::parse_str(&b).unwrap(),
    );
    let (pa, pb) = (
        sys.rig
            .agent_pid(&paliadin_e2e::procs::window_of(&sys.owner.id, &ta)),
        sys.rig
            .agent_pid(&paliadin_e2e::procs::window_of(&sys.owner.id, &tb)),
    );
    assert!(pa.is_some() && pb.is_some() && pa != pb, "{pa:?} {pb:?}");
    // A's hanging turn is cancelled; its next turn then runs, in A's agent.
    let (s, v) = sys
        .c
        .post(&format!("/api/paliadin/turn/{hang}/cancel"), &json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        read_to_terminal(&mut hanging, 60)
            .await
            .last()
            .unwrap()
            .event,
        "cancelled"
    );
    let end = read_to_terminal(&mut after, 60).await;
    assert_eq!(end.last().unwrap().event, "end", "{end:?}");
    let recall = sys.recall(&a).await;
    assert!(recall.contains("alpha again"), "{recall}");
    assert!(!recall.contains("beta"), "A's agent saw B: {recall}");
    let recall = sys.recall(&b).await;
    assert!(!recall.contains("alpha"), "B's agent saw A: {recall}");
}

async fn turns_of(db: &TestDb, id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM turns WHERE session_id = $1::uuid")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_agent_is_stopped_and_its_conversation_resumes() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "o@idle", Role::Owner).await;
    let rig = TmuxRig::new();
    let sys = Sys {
        c: Client::new(&api.base, Some(&token)),
        worker: rig.worker_with(&db.url, "idle-w1", &[("PALIADIN_AGENT_IDLE_SECS", "1")]),
        rig,
        owner,
        _api: api,
        db,
    };
    let (_, conv) = sys.say(None, "remember the idle test").await;
    paliadin_e2e::wait_until(30, "the idle agent stopped", || {
        let gone = !sys.rig.has_session(&sys.session());
        async move { gone }
    })
    .await;
    let (evs, _) = sys.say_all(Some(&conv), "/recall").await;
    let text = evs.last().unwrap().data["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("remember the idle test"), "{text}");
    assert!(
        evs.iter().any(|e| e.event == "activity"
            && e.data["text"] == "resumed this conversation in a new agent"),
        "{evs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_cannot_resume_says_so_on_the_page_after_a_restart() {
    // `PALIADIN_AGENT=other`: the demo agent as a custom agent, started with no arguments and
    // without a resume form.
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "o@forgets", Role::Owner).await;
    let rig = TmuxRig::new();
    let worker = rig.worker_with(&db.url, "forget-w1", &[("PALIADIN_AGENT", "other")]);
    let sys = Sys {
        c: Client::new(&api.base, Some(&token)),
        worker,
        rig,
        owner,
        _api: api,
        db,
    };
    let forgets = |evs: &[SseEvent]| {
        evs.iter().any(|e| {
            e.event == "activity"
                && e.data["text"]
                    == "a new agent started: this agent does not remember earlier turns after a restart"
        })
    };
    let (evs, conv) = sys.say_all(None, "my name is Ada").await;
    assert!(
        !forgets(&evs),
        "a first turn has nothing to forget: {evs:?}"
    );
    sys.rig.kill_agent(&sys.session());
    let (evs, _) = sys.say_all(Some(&conv), "/recall").await;
    assert!(forgets(&evs), "the page is told: {evs:?}");
    let text = evs.last().unwrap().data["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("no earlier message"), "it did forget: {text}");
    let (evs, _) = sys.say_all(Some(&conv), "/echo again").await;
    assert!(!forgets(&evs), "said once: {evs:?}");
}

//! One owner's live agents through the whole system with the demo agent
//! (`PALIADIN_MAX_LIVE_AGENTS_PER_USER`): each conversation's agent is a window of the owner's
//! session; a conversation that needs one more than the owner may hold stops the owner's least
//! recently used idle agent (which resumes with its conversation's next turn), and when all of
//! theirs are at work its turn waits in the queue (`{state: "queued", reason: "agents_full"}`)
//! and runs once one of them is free, while another owner's agents are not counted.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, SseEvent, next_event, read_to_terminal, user};
use paliadin_e2e::procs::{TmuxRig, window_of};
use paliadin_e2e::system::{Api, start_api};
use paliadin_shared::db::users::{Role, UserRow};
use serde_json::json;
use tokio::process::Child;
use uuid::Uuid;

struct Sys {
    c: Client,
    owner: UserRow,
    rig: TmuxRig,
    _worker: Child,
    _api: Api,
    _db: TestDb,
}

/// One owner and one worker whose owners hold at most 2 live agents each.
async fn start() -> Sys {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "o@owner-agents", Role::Owner).await;
    let rig = TmuxRig::new();
    let worker = rig.worker_with(
        &db.url,
        "owner-agents-w1",
        &[("PALIADIN_MAX_LIVE_AGENTS_PER_USER", "2")],
    );
    Sys {
        c: Client::new(&api.base, Some(&token)),
        owner,
        rig,
        _worker: worker,
        _api: api,
        _db: db,
    }
}

impl Sys {
    /// Posts `message` in `conversation` and opens its stream.
    async fn post(
        &self,
        conversation: Uuid,
        message: &str,
    ) -> (
        String,
        impl futures::Stream<Item = SseEvent> + Unpin + use<>,
    ) {
        let body = json!({ "user_message": message, "session_id": conversation });
        let (s, v) = self.c.post("/api/paliadin/turn", &body).await;
        assert_eq!(s, 200, "{v}");
        let (_, stream) = self
            .c
            .open_stream(v["sse_url"].as_str().unwrap(), None)
            .await;
        (v["turn_id"].as_str().unwrap().to_owned(), stream)
    }

    /// Runs `message` in `conversation` to its end; its events.
    async fn say(&self, conversation: Uuid, message: &str) -> Vec<SseEvent> {
        let (_, mut stream) = self.post(conversation, message).await;
        let evs = read_to_terminal(&mut stream, 60).await;
        assert_eq!(evs.last().unwrap().event, "end", "{message}: {evs:?}");
        evs
    }

    fn live(&self, conversation: Uuid) -> bool {
        self.rig
            .agent_pid(&window_of(&self.owner.id, &conversation))
            .is_some()
    }
}

fn resumed(evs: &[SseEvent]) -> bool {
    evs.iter().any(|e| {
        e.event == "activity" && e.data["text"] == "resumed this conversation in a new agent"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_holds_at_most_their_limit_of_agents_and_the_rest_wait_or_resume() {
    let sys = start().await;
    let [a, b, c] = [0; 3].map(|_| Uuid::new_v4());
    sys.say(a, "alpha speaks").await;
    sys.say(b, "beta speaks").await;
    // A third conversation: the owner's least recently used agent (A's) makes room.
    sys.say(c, "gamma speaks").await;
    assert_eq!([a, b, c].map(|x| sys.live(x)), [false, true, true]);
    // A again: resumed, remembering; B, now the least recently used, makes room.
    let evs = sys.say(a, "/recall").await;
    assert!(resumed(&evs), "{evs:?}");
    let recall = evs.last().unwrap().data["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(recall.contains("alpha speaks"), "{recall}");
    assert_eq!([a, b, c].map(|x| sys.live(x)), [true, false, true]);

    // A's and C's agents both at work: B's turn starts nothing and waits in the queue.
    let (hang_a, mut in_a) = sys.post(a, "/hang").await;
    let (hang_c, mut in_c) = sys.post(c, "/hang").await;
    for stream in [&mut in_a, &mut in_c] {
        while next_event(stream, 30).await.data["state"] != "delivered" {}
    }
    let (_, mut in_b) = sys.post(b, "/echo beta again").await;
    loop {
        let ev = next_event(&mut in_b, 60).await;
        assert!(!ev.is_terminal(), "{ev:?}");
        if ev.event == "status"
            && ev.data["state"] == "queued"
            && ev.data["reason"] == "agents_full"
        {
            break;
        }
    }
    assert!(!sys.live(b), "B's agent started beyond the owner's limit");
    // A's turn is cancelled: its agent is idle again, makes room, and B's turn runs.
    let (s, v) = sys
        .c
        .post(&format!("/api/paliadin/turn/{hang_a}/cancel"), &json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let end = read_to_terminal(&mut in_b, 60).await;
    assert_eq!(end.last().unwrap().event, "end", "{end:?}");
    assert!(resumed(&end), "{end:?}");
    assert_eq!([a, b, c].map(|x| sys.live(x)), [false, true, true]);
    let (s, _) = sys
        .c
        .post(&format!("/api/paliadin/turn/{hang_c}/cancel"), &json!({}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        read_to_terminal(&mut in_a, 60).await.last().unwrap().event,
        "cancelled"
    );
    assert_eq!(
        read_to_terminal(&mut in_c, 60).await.last().unwrap().event,
        "cancelled"
    );
}

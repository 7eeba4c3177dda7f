//! The live-agent limit of a tmux host (`PALIADIN_MAX_LIVE_AGENTS`) through the whole system
//! with the demo agent: on a full host the least recently used idle agent is stopped to make
//! room, and its owner's next turn resumes it (the demo agent's `/recall` still lists the
//! earlier messages); when every agent is at work, a turn waits in the queue (a `status` event
//! `{state: "queued", reason: "agents_full"}`, no attempt spent) and runs once one is free; the
//! worker's `/metrics` count the stops by reason, the resumes, the live agents and the waits.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, SseEvent, read_to_terminal, read_until, user};
use paliadin_e2e::procs::{TmuxRig, session_of};
use paliadin_e2e::system::{Api, start_api};
use paliadin_shared::db::users::Role;
use serde_json::json;
use tokio::process::Child;

/// One owner: their client and their agent's tmux session.
struct Owner {
    c: Client,
    session: String,
}

struct Sys {
    owners: Vec<Owner>,
    rig: TmuxRig,
    metrics: String,
    _worker: Child,
    _api: Api,
    db: TestDb,
}

/// Three owners and one worker whose host holds at most `max` live agents.
async fn start(max: &str) -> Sys {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let mut owners = Vec::new();
    for name in ["a", "b", "c"] {
        let (row, token) = user(&db, &format!("{name}@live"), Role::Owner).await;
        owners.push(Owner {
            c: Client::new(&api.base, Some(&token)),
            session: session_of(&row.id),
        });
    }
    let metrics = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let rig = TmuxRig::new();
    let worker = rig.worker_with(
        &db.url,
        "live-w1",
        &[
            ("PALIADIN_MAX_LIVE_AGENTS", max),
            ("PALIADIN_WORKER_METRICS_BIND", metrics.as_str()),
        ],
    );
    Sys {
        owners,
        rig,
        metrics,
        _worker: worker,
        _api: api,
        db,
    }
}

impl Sys {
    /// Sends `message` as owner `i` (in their latest conversation) and reads it to its end.
    async fn say(&self, i: usize, message: &str) -> Vec<SseEvent> {
        let (s, v) = self.owners[i]
            .c
            .post("/api/paliadin/turn", &json!({ "user_message": message }))
            .await;
        assert_eq!(s, 200, "{v}");
        let evs = self.owners[i]
            .c
            .stream_all(v["sse_url"].as_str().unwrap(), None, 60)
            .await;
        assert_eq!(evs.last().unwrap().event, "end", "{message}: {evs:?}");
        evs
    }

    fn live(&self) -> [bool; 3] {
        [0, 1, 2].map(|i| self.rig.has_session(&self.owners[i].session))
    }

    /// One sample of the worker's metrics: `name{labels}` → value.
    async fn metric(&self, name_and_labels: &str) -> f64 {
        let text = reqwest::get(format!("http://{}/metrics", self.metrics))
            .await
            .expect("scrape the worker")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no sample {name_and_labels} in:\n{text}"))
    }
}

fn text(evs: &[SseEvent]) -> String {
    evs.last().unwrap().data["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn resumed(evs: &[SseEvent]) -> bool {
    evs.iter().any(|e| {
        e.event == "activity" && e.data["text"] == "resumed this conversation in a new agent"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_host_stops_its_least_recently_used_idle_agent_which_resumes_later() {
    let sys = start("2").await;
    sys.say(0, "my name is Ada").await;
    sys.say(1, "my name is Bob").await;
    // Ada's agent is used again: Bob's is now the least recently used.
    sys.say(0, "/echo Ada again").await;
    assert_eq!(sys.live(), [true, true, false]);

    // A third owner's turn needs an agent on a full host: Bob's, idle and the oldest, makes room.
    sys.say(2, "my name is Cy").await;
    assert_eq!(sys.live(), [true, false, true], "Bob's agent made room");

    // Bob's next turn resumes his conversation in a new agent; Ada's (used before Cy's) goes.
    let evs = sys.say(1, "/recall").await;
    let recalled = text(&evs);
    assert!(recalled.contains("my name is Bob"), "{recalled}");
    assert!(resumed(&evs), "the page is told once: {evs:?}");
    assert_eq!(sys.live(), [false, true, true], "Ada's agent made room");
    let evs = sys.say(0, "/recall").await;
    assert!(text(&evs).contains("my name is Ada"), "{}", text(&evs));
    assert_eq!(sys.live(), [true, true, false], "Cy's agent made room");

    let stops =
        |reason: &str| format!("paliadin_agent_stops_total{{host=\"local\",reason=\"{reason}\"}}");
    assert_eq!(sys.metric(&stops("capacity")).await, 3.0);
    assert_eq!(sys.metric(&stops("idle")).await, 0.0);
    let starts =
        |mode: &str| format!("paliadin_agent_starts_total{{host=\"local\",mode=\"{mode}\"}}");
    assert_eq!(sys.metric(&starts("start")).await, 3.0);
    assert_eq!(sys.metric(&starts("resume")).await, 2.0);
    assert_eq!(
        sys.metric("paliadin_agents_live{host=\"local\"}").await,
        2.0
    );
    assert_eq!(sys.metric("paliadin_agents_max{host=\"local\"}").await, 2.0);
    // No turn had to wait: there was always an idle agent to stop.
    let waited = "paliadin_turns_deferred_total{reason=\"agents_full\"}";
    assert_eq!(sys.metric(waited).await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_agent_is_at_work_a_turn_waits_in_the_queue_and_runs_after() {
    let sys = start("1").await;
    let (a, b) = (&sys.owners[0].c, &sys.owners[1].c);
    // Ada's turn holds the host's only agent at work: it waits for her permission decision.
    let (s, v) = a
        .post(
            "/api/paliadin/turn",
            &json!({"user_message": "/ask Bash hold on"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let asked = v["turn_id"].as_str().unwrap().to_owned();
    let (_, mut held) = a.open_stream(v["sse_url"].as_str().unwrap(), None).await;
    let request = read_until(&mut held, "permission", 60).await;
    let request = request.last().unwrap().data["request_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Bob's turn finds no room: it waits in the queue, says why, and is no error.
    let (s, v) = b
        .post(
            "/api/paliadin/turn",
            &json!({"user_message": "my name is Bob"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let waiting = v["turn_id"].as_str().unwrap().to_owned();
    let (_, mut stream) = b.open_stream(v["sse_url"].as_str().unwrap(), None).await;
    let mut seen = Vec::new();
    while !seen.iter().any(|e: &SseEvent| {
        e.event == "status" && e.data["state"] == "queued" && e.data["reason"] == "agents_full"
    }) {
        let evs = read_until(&mut stream, "status", 60).await;
        assert!(!evs.iter().any(SseEvent::is_terminal), "{evs:?}");
        seen.extend(evs);
    }
    assert!(
        sys.rig.has_session(&sys.owners[0].session),
        "Ada's agent at work was kept"
    );
    assert!(!sys.rig.has_session(&sys.owners[1].session));
    let (state, spent): (String, i32) =
        sqlx::query_as("SELECT state, attempt - releases FROM turns WHERE id = $1::uuid")
            .bind(&waiting)
            .fetch_one(&sys.db.pool)
            .await
            .unwrap();
    assert!(state == "queued" || state == "running", "{state}");
    assert!(spent <= 1, "a wait spends no attempt: {spent}");

    // Ada answers; her turn ends, her agent is idle, and Bob's turn takes its place.
    let (s, v) = a
        .post(
            &format!("/api/paliadin/turn/{asked}/permission/{request}"),
            &json!({"decision": "allow"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        read_to_terminal(&mut held, 60).await.last().unwrap().event,
        "end"
    );
    let rest = read_to_terminal(&mut stream, 60).await;
    assert_eq!(rest.last().unwrap().event, "end", "{rest:?}");
    let (attempt, releases): (i32, i32) =
        sqlx::query_as("SELECT attempt, releases FROM turns WHERE id = $1::uuid")
            .bind(&waiting)
            .fetch_one(&sys.db.pool)
            .await
            .unwrap();
    assert!(releases >= 1, "it was put back at least once");
    assert_eq!(attempt - releases, 1, "and spent one attempt only");
    assert!(
        !sys.rig.has_session(&sys.owners[0].session),
        "Ada's agent made room"
    );
    assert!(sys.rig.has_session(&sys.owners[1].session));
    let recalled = text(&sys.say(1, "/recall").await);
    assert!(recalled.contains("my name is Bob"), "{recalled}");

    let waited = sys
        .metric("paliadin_turns_deferred_total{reason=\"agents_full\"}")
        .await;
    assert!(waited >= 1.0, "{waited}");
    assert_eq!(releases as f64, waited, "each wait is counted once");
    let capacity = "paliadin_agent_stops_total{host=\"local\",reason=\"capacity\"}";
    assert_eq!(sys.metric(capacity).await, 1.0);
}

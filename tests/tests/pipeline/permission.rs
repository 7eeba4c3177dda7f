//! Permission requests answered from the API, with real processes: the API, `paliadin-worker`
//! binaries and the demo agent (`/ask <tool> <text>`) in a private tmux server. A request
//! becomes a durable `permission` event; the owner's decision (allow, deny) reaches the agent;
//! another user gets 404, a second decision 409; an unanswered request expires as a denial;
//! a decision made while no worker runs is delivered by the next one, and the time spent
//! waiting does not count against the turn's limit.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, read_to_terminal, read_until, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::system::{Api, start_api};
use paliadin_shared::db::users::Role;
use serde_json::{Value, json};
use tokio::process::Child;

struct Sys {
    c: Client,
    other: Client,
    worker: Child,
    rig: TmuxRig,
    _api: Api,
    db: TestDb,
}

async fn start(env: &[(&str, &str)]) -> Sys {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let (_, other) = user(&db, "intruder@x", Role::Owner).await;
    let rig = TmuxRig::new();
    let worker = rig.worker_with(&db.url, "perm-w1", env);
    Sys {
        c: Client::new(&api.base, Some(&token)),
        other: Client::new(&api.base, Some(&other)),
        worker,
        rig,
        _api: api,
        db,
    }
}

async fn decide(c: &Client, turn: &str, request: &str, body: Value) -> (u16, Value) {
    c.post(
        &format!("/api/paliadin/turn/{turn}/permission/{request}"),
        &body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_request_runs_and_only_its_owner_decides_once() {
    let Sys {
        c, other, rig, db, ..
    } = &start(&[]).await;
    let (_, admin_token) = user(db, "admin@x", Role::Admin).await;
    let admin = &Client::new(&c.base, Some(&admin_token));
    let (id, sse) = c.turn("/ask Bash touch /tmp/paliadin-x").await;
    let (_, mut stream) = c.open_stream(&sse, None).await;
    let asked = read_until(&mut stream, "permission", 60).await;
    let p = &asked.last().unwrap().data;
    assert_eq!(p["tool"], "Bash");
    assert_eq!(p["summary"], "touch /tmp/paliadin-x");
    assert_eq!(p["options"], json!(["allow", "allow_always", "deny"]));
    assert!(p["expires_at"].is_string(), "{p}");
    let request = p["request_id"].as_str().unwrap().to_owned();

    // Nobody else can answer, or even learn that the request exists.
    let (s, _) = decide(other, &id, &request, json!({"decision": "allow"})).await;
    assert_eq!(s, 404);
    let (s, _) = decide(c, &id, "not-a-uuid", json!({"decision": "allow"})).await;
    assert_eq!(s, 404);
    let (s, v) = decide(c, &id, &request, json!({"decision": "maybe"})).await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = decide(
        c,
        &id,
        &request,
        json!({"decision": "deny", "message": "a\u{7}"}),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("invalid_message")),
        "{v}"
    );

    // The operator sees a turn waiting on its person, in the stats and in the metrics.
    let (s, stats) = admin.get("/api/admin/paliadin/stats").await;
    assert_eq!((s, &stats["waiting"]["turns"]), (200, &json!(1)), "{stats}");
    assert!(stats["waiting"]["oldest_wait_secs"].as_f64().unwrap() >= 0.0);
    let metrics = reqwest::get(format!("{}/metrics", c.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.lines().any(|l| l == "paliadin_turns_waiting 1"),
        "{metrics}"
    );

    let (s, v) = decide(c, &id, &request, json!({"decision": "allow"})).await;
    assert_eq!((s, v["decision"].as_str()), (200, Some("allow")), "{v}");
    let (s, v) = decide(c, &id, &request, json!({"decision": "deny"})).await;
    assert_eq!(s, 409, "a second decision: {v}");

    let after = read_to_terminal(&mut stream, 60).await;
    let decided = after
        .iter()
        .find(|e| e.event == "permission_decided")
        .expect("permission_decided");
    assert_eq!(decided.data["decision"], "allow");
    assert_eq!(decided.data["by"], "owner");
    assert_eq!(decided.data["request_id"], request.as_str());
    let end = after.last().unwrap();
    assert_eq!(end.event, "end", "{after:?}");
    let text = end.data["text"].as_str().unwrap();
    assert!(text.starts_with("Allowed (allow): Bash ran"), "{text}");
    assert_eq!(rig.receipts(&id), 1);
    // A reader who comes later (a reloaded page) replays the same request and its decision.
    let replay = c.stream_all(&sse, None, 30).await;
    let kinds: Vec<&str> = replay.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "permission").count(),
        1,
        "{kinds:?}"
    );
    let asked_at = kinds.iter().position(|k| *k == "permission").unwrap();
    let decided_at = kinds
        .iter()
        .position(|k| *k == "permission_decided")
        .unwrap();
    assert!(asked_at < decided_at, "{kinds:?}");
    let (_, stats) = admin.get("/api/admin/paliadin/stats").await;
    assert_eq!(stats["waiting"]["turns"], 0, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_request_does_not_run_and_the_agent_is_told_why() {
    // A 2 s turn limit: the person takes longer than that to answer, which must not count.
    let Sys { c, .. } = &start(&[("PALIADIN_TURN_TIMEOUT_SECS", "2")]).await;
    let (id, sse) = c.turn("/ask Write /etc/passwd").await;
    let (_, mut stream) = c.open_stream(&sse, None).await;
    let asked = read_until(&mut stream, "permission", 60).await;
    let request = asked.last().unwrap().data["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The person thinks it over for longer than the turn's limit.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let body = json!({"decision": "deny", "message": "not that file"});
    let (s, v) = decide(c, &id, &request, body).await;
    assert_eq!(s, 200, "{v}");
    let after = read_to_terminal(&mut stream, 60).await;
    let end = after.last().unwrap();
    assert_eq!(
        end.event, "end",
        "the wait counted against the turn: {after:?}"
    );
    assert_eq!(
        end.data["text"],
        "Denied: Write did not run (not that file)."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_request_expires_as_a_denial() {
    let Sys { c, .. } = &start(&[("PALIADIN_PERMISSION_WAIT_SECS", "1")]).await;
    let (id, sse) = c.turn("/ask WebFetch https://example.invalid/").await;
    let evs = c.stream_all(&sse, None, 60).await;
    let p = evs.iter().find(|e| e.event == "permission").expect("asked");
    let d = evs
        .iter()
        .find(|e| e.event == "permission_decided")
        .expect("decided");
    assert_eq!(
        (d.data["decision"].as_str(), d.data["by"].as_str()),
        (Some("deny"), Some("expired"))
    );
    let end = evs.last().unwrap();
    assert_eq!(end.event, "end", "{evs:?}");
    assert!(
        end.data["text"]
            .as_str()
            .unwrap()
            .starts_with("Denied: WebFetch did not run")
    );
    let request = p.data["request_id"].as_str().unwrap();
    let (s, _) = decide(c, &id, request, json!({"decision": "allow"})).await;
    assert_eq!(s, 409, "an expired request cannot be allowed afterwards");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_made_while_no_worker_runs_is_delivered_by_the_next_one() {
    let Sys {
        c,
        worker: first,
        rig,
        db,
        ..
    } = &mut start(&[]).await;
    let (id, sse) = c.turn("/ask Bash make install").await;
    let (_, mut stream) = c.open_stream(&sse, None).await;
    let asked = read_until(&mut stream, "permission", 60).await;
    let request = asked.last().unwrap().data["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    first.start_kill().expect("SIGKILL");
    first.wait().await.expect("reaped");
    // The browser answers while the fleet is down: recorded, not lost.
    let (s, v) = decide(c, &id, &request, json!({"decision": "allow_always"})).await;
    assert_eq!(s, 200, "{v}");
    let _second = rig.worker(&db.url, "perm-w2");
    let after = read_to_terminal(&mut stream, 60).await;
    let end = after.last().unwrap();
    assert_eq!(end.event, "end", "{after:?}");
    assert!(
        end.data["text"]
            .as_str()
            .unwrap()
            .starts_with("Allowed (allow_always): Bash ran"),
        "{end:?}"
    );
    assert!(
        !after.iter().any(|e| e.event == "permission"),
        "the takeover asked again: {after:?}"
    );
    assert_eq!(rig.receipts(&id), 1, "the message was pasted again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_ssh_a_request_survives_a_cut_connection_and_its_decision_arrives() {
    use paliadin_e2e::sshd::{SshHost, wait_host, worker};
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let h1 = SshHost::start("h1");
    let _w = worker(&db.url, "perm-ssh", &h1.entry(), &[]);
    wait_host(&db, "h1", true, 20).await;
    let c = Client::new(&api.base, Some(&token));
    let (id, sse) = c.turn("/ask Bash deploy the site").await;
    let (_, mut stream) = c.open_stream(&sse, None).await;
    let asked = read_until(&mut stream, "permission", 60).await;
    let p = &asked.last().unwrap().data;
    assert_eq!(
        (p["tool"].as_str(), p["summary"].as_str()),
        (Some("Bash"), Some("deploy the site"))
    );
    let request = p["request_id"].as_str().unwrap().to_owned();
    // The SSH connection drops while the agent waits; the person answers meanwhile.
    h1.kill_sessions();
    let (s, v) = decide(&c, &id, &request, json!({"decision": "allow"})).await;
    assert_eq!(s, 200, "{v}");
    let after = read_to_terminal(&mut stream, 60).await;
    let end = after.last().unwrap();
    assert_eq!(end.event, "end", "{after:?}");
    assert!(
        end.data["text"]
            .as_str()
            .unwrap()
            .starts_with("Allowed (allow): Bash ran"),
        "{end:?}"
    );
    assert!(
        !after.iter().any(|e| e.event == "permission"),
        "asked twice: {after:?}"
    );
    assert_eq!(h1.rig.receipts(&id), 1, "pasted again");
}

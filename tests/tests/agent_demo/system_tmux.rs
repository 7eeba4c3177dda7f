//! Pins the whole system with real processes: the API, `paliadin-worker` binaries and the demo
//! agent in a real (private) tmux server. A turn posted over HTTP is answered in the session
//! `<prefix>-<userid8>` with streamed deltas; a worker SIGKILLed after delivery is replaced and
//! the turn completes with exactly one paste; a worker stopped by SIGTERM hands its turn over at
//! once; a reply whose commit failed is found again; cancel works through the API, and reset
//! starts a new conversation (its first turn gets an agent of its own).

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, SseEvent, assert_streamed_reply, next_event, user};
use paliadin_e2e::procs::{TmuxRig, session_of, window_of};
use paliadin_e2e::system::{Api, start_api};
use paliadin_shared::db::users::{Role, UserRow};
use tokio::process::Child;

/// One test's system: the API, an owner with a client, and a worker process named `worker_id`
/// on a private tmux rig. Fields drop in this order (client and worker before the rig).
struct Sys {
    c: Client,
    worker: Child,
    rig: TmuxRig,
    owner: UserRow,
    _api: Api,
    db: TestDb,
}

async fn start(worker_id: &str) -> Sys {
    start_with(worker_id, &[]).await
}

/// [`start`] with worker settings of its own.
async fn start_with(worker_id: &str, env: &[(&str, &str)]) -> Sys {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "o@x", Role::Owner).await;
    let rig = TmuxRig::new();
    let worker = rig.worker_with(&db.url, worker_id, env);
    let c = Client::new(&api.base, Some(&token));
    Sys {
        c,
        worker,
        rig,
        owner,
        _api: api,
        db,
    }
}

/// Reads a turn's events up to its `status: delivered`.
async fn until_delivered(
    stream: &mut (impl futures::Stream<Item = SseEvent> + Unpin),
) -> Vec<SseEvent> {
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|e: &SseEvent| e.data["state"] == "delivered")
    {
        seen.push(next_event(stream, 30).await);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_is_answered_by_the_demo_agent_in_the_users_session() {
    let Sys { c, rig, owner, .. } = &start("sys-w1").await;
    let (id, sse) = c.turn("/stream 4 tell me a story").await;
    let evs = c.stream_all(&sse, None, 60).await;
    assert_streamed_reply(&evs);
    let session = session_of(&owner.id);
    assert!(rig.has_session(&session), "no tmux session {session}");
    assert_eq!(rig.receipts(&id), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_after_delivery_is_replaced_without_a_second_paste() {
    let Sys {
        c,
        worker: first,
        rig,
        db,
        ..
    } = &mut start("sys-doomed").await;
    let (id, sse) = c.turn("/slow 2500 are you there").await;
    let (_, mut stream) = c.open_stream(&sse, None).await;
    let mut seen = until_delivered(&mut stream).await;
    first.start_kill().expect("SIGKILL");
    first.wait().await.expect("reaped");
    let _second = rig.worker(&db.url, "sys-rescuer");
    while !seen.last().unwrap().is_terminal() {
        seen.push(next_event(&mut stream, 30).await);
    }
    assert_eq!(seen.last().unwrap().event, "end", "{seen:?}");
    let claimed: Vec<&str> = seen
        .iter()
        .filter(|e| e.data["state"] == "claimed")
        .map(|e| e.data["worker"].as_str().unwrap())
        .collect();
    assert_eq!(claimed, ["sys-doomed", "sys-rescuer"]);
    assert_eq!(
        rig.receipts(&id),
        1,
        "the message was pasted more than once"
    );
    let ids: Vec<i32> = seen.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=seen.len() as i32).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_interrupts_the_agent_and_reset_starts_a_new_conversation() {
    let Sys { c, rig, owner, .. } = &start("sys-w1").await;
    let (id, sse) = c.turn("/hang").await;
    let (_, mut stream) = c.open_stream(&sse, None).await;
    while next_event(&mut stream, 30).await.data["state"] != "delivered" {}
    let (s, v) = c
        .post(
            &format!("/api/paliadin/turn/{id}/cancel"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("cancelling")));
    let mut last = next_event(&mut stream, 30).await;
    while !last.is_terminal() {
        last = next_event(&mut stream, 30).await;
    }
    assert_eq!(last.event, "cancelled");
    // The agent is usable again after the interrupt.
    let (_, sse) = c.turn("still there?").await;
    assert_eq!(
        c.stream_all(&sse, None, 60).await.last().unwrap().event,
        "end"
    );
    let session = session_of(&owner.id);
    let before = rig.agent_pid(&session).expect("an agent");
    // A new conversation: the session stays; its first turn gets an agent of its own.
    let (s, v) = c.post("/api/paliadin/reset", &serde_json::json!({})).await;
    assert_eq!((s, v["ok"].as_bool()), (200, Some(true)), "{v}");
    assert!(rig.has_session(&session), "reset killed the session");
    let fresh: uuid::Uuid = v["session_id"].as_str().unwrap().parse().unwrap();
    let (_, sse) = c.turn("fresh start").await;
    assert_eq!(
        c.stream_all(&sse, None, 60).await.last().unwrap().event,
        "end"
    );
    // In a window of its own, next to the old conversation's agent, which keeps running.
    let theirs = rig.agent_pid(&window_of(&owner.id, &fresh));
    assert!(theirs.is_some(), "no agent for the new conversation");
    assert_ne!(
        theirs,
        Some(before),
        "the new conversation's turn reached the old conversation's agent"
    );
    assert_eq!(rig.agent_pid(&session), Some(before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_whose_commit_failed_is_found_again_by_the_next_attempt() {
    let Sys { c, rig, db, .. } = &start("sys-w1").await;
    // The first `end` write of this database fails (a sequence is not rolled back with it):
    // the worker has the reply, but its result does not commit.
    sqlx::raw_sql(
        "CREATE SEQUENCE end_writes;
         CREATE FUNCTION fail_first_end() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.kind = 'end' AND nextval('end_writes') = 1 THEN
             RAISE EXCEPTION 'the first result commit fails';
           END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER fail_first_end BEFORE INSERT ON turn_events
           FOR EACH ROW EXECUTE FUNCTION fail_first_end();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let (id, sse) = c.turn("/stream 3 answer me twice").await;
    // The lease lapses (3 s) and the next attempt takes over from the reply file on the host.
    let evs = c.stream_all(&sse, None, 30).await;
    assert_streamed_reply(&evs);
    let claims = evs.iter().filter(|e| e.data["state"] == "claimed").count();
    assert_eq!(claims, 2, "{evs:?}");
    assert_eq!(rig.receipts(&id), 1, "the message was pasted again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_by_sigterm_hands_its_turn_over_at_once() {
    // A 30 s lease and no grace: only an immediate release makes a quick takeover possible.
    let slow = [
        ("PALIADIN_LEASE_SECS", "30"),
        ("PALIADIN_SHUTDOWN_GRACE_SECS", "0"),
    ];
    let Sys {
        c,
        worker: stopping,
        rig,
        db,
        ..
    } = &mut start_with("sys-stops", &slow).await;
    let (id, sse) = c.turn("/slow 3000 take your time").await;
    let (_, mut stream) = c.open_stream(&sse, None).await;
    let mut seen = until_delivered(&mut stream).await;
    let pid = stopping.id().expect("pid").to_string();
    let term = std::time::Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(killed.is_ok_and(|s| s.success()));
    assert!(stopping.wait().await.expect("reaped").success());
    let _rescuer = rig.worker(&db.url, "sys-rescuer");
    while seen.last().unwrap().data["worker"] != "sys-rescuer" {
        seen.push(next_event(&mut stream, 30).await);
    }
    let took = term.elapsed();
    eprintln!("takeover after SIGTERM: {} ms", took.as_millis());
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    while !seen.last().unwrap().is_terminal() {
        seen.push(next_event(&mut stream, 30).await);
    }
    assert_eq!(seen.last().unwrap().event, "end", "{seen:?}");
    assert_eq!(rig.receipts(&id), 1, "the message was pasted again");
}

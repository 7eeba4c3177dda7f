//! Pins what happens when the SSH side breaks, with real processes (API in-process, a
//! `paliadin-worker` binary, sshd + `paliadin-shim` + demo agent per host):
//! - the worker's ssh client killed mid-answer, or the host's sshd session killed, or the link
//!   killed while the message is being delivered: the worker reconnects and the turn completes
//!   exactly once — one receipt (`.ack` line), one `delivered`, no duplicated content;
//! - a stopped host: turns fail `host_unreachable` within the connect bound; with
//!   `PALIADIN_FAILOVER=move` the user and their queued turn move to the other host and are
//!   answered there; with `never` the user stays pinned and keeps failing fast.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, SseEvent, concat_deltas, next_event, user};
use paliadin_e2e::procs::session_of;
use paliadin_e2e::sshd::{SshHost, children_named, kill, wait_host, worker};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use std::time::{Duration, Instant};

/// The one ssh client of a worker process.
fn ssh_client(w: &tokio::process::Child) -> u32 {
    let pids = children_named(w.id().expect("worker pid"), "ssh");
    assert_eq!(pids.len(), 1, "expected one ssh connection: {pids:?}");
    pids[0]
}

/// Posts a streamed turn, breaks the link with `break_link` once `at` is seen, and checks the
/// turn still completes exactly once.
async fn survives(
    break_link: impl Fn(&SshHost, &tokio::process::Child),
    at: fn(&SseEvent) -> bool,
) {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "o@x", Role::Owner).await;
    let h1 = SshHost::start("h1");
    let w = worker(&db.url, "ssh-w", &h1.entry(), &[]);
    wait_host(&db, "h1", true, 20).await;
    let c = Client::new(&api.base, Some(&token));
    let (id, sse) = c.turn("/stream 30 a long story").await;
    let (_, mut stream) = c.open_stream(&sse, None).await;
    let mut seen = vec![next_event(&mut stream, 30).await];
    while !at(seen.last().unwrap()) {
        seen.push(next_event(&mut stream, 30).await);
    }
    let before = ssh_client(&w);
    break_link(&h1, &w);
    while !seen.last().unwrap().is_terminal() {
        seen.push(next_event(&mut stream, 30).await);
    }
    let end = seen.last().unwrap();
    assert_eq!(end.event, "end", "{seen:?}");
    assert_eq!(
        h1.rig.receipts(&id),
        1,
        "the message was pasted more than once; the agent's screen:\n{}",
        h1.rig.screen(&session_of(&owner.id))
    );
    let delivered = seen
        .iter()
        .filter(|e| e.data["state"] == "delivered")
        .count();
    assert_eq!(delivered, 1, "{seen:?}");
    assert_eq!(
        concat_deltas(&seen),
        end.data["text"].as_str().unwrap(),
        "{seen:?}"
    );
    let ids: Vec<i32> = seen.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=seen.len() as i32).collect::<Vec<_>>());
    assert_ne!(ssh_client(&w), before, "the worker did not reconnect");
}

fn is_content(e: &SseEvent) -> bool {
    e.event == "content"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_ssh_client_mid_answer_reconnects_and_the_turn_completes_once() {
    survives(|_, w| kill(ssh_client(w)), is_content).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sshd_session_mid_answer_reconnects_and_the_turn_completes_once() {
    survives(|h, _| h.kill_sessions(), is_content).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_killed_during_delivery_never_pastes_twice() {
    survives(|_, w| kill(ssh_client(w)), |e| e.data["state"] == "claimed").await;
}

/// Posts a turn and reads it to its end; returns the events and how long it took.
async fn run(c: &Client, msg: &str) -> (String, Vec<SseEvent>, Duration) {
    let started = Instant::now();
    let (id, sse) = c.turn(msg).await;
    let evs = c.stream_all(&sse, None, 60).await;
    (id, evs, started.elapsed())
}

async fn pinned(db: &TestDb, user: uuid::Uuid) -> (String, Option<String>) {
    sqlx::query_as("SELECT host, session_name FROM agent_sessions WHERE user_id = $1")
        .bind(user)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_host_fails_fast_and_move_answers_the_next_turns_on_the_other_host() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "o@x", Role::Owner).await;
    let (mut h1, h2) = (SshHost::start("h1"), SshHost::start("h2"));
    let hosts = format!("{},{}", h1.entry(), h2.entry());
    let _w = worker(&db.url, "ssh-fo", &hosts, &[("PALIADIN_FAILOVER", "move")]);
    wait_host(&db, "h1", true, 20).await;
    wait_host(&db, "h2", true, 20).await;
    let c = Client::new(&api.base, Some(&token));
    let (_, evs, _) = run(&c, "/echo first").await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    assert_eq!(pinned(&db, owner.id).await.0, "h1");
    h1.stop();
    wait_host(&db, "h1", false, 20).await;
    // The first turn fails within the bound (3 s here); the second, queued behind it, moves.
    let started = Instant::now();
    let (_, doomed) = c.turn("/echo into the void").await;
    let (moved_id, moved) = c.turn("/echo second").await;
    let evs = c.stream_all(&doomed, None, 60).await;
    let last = evs.last().unwrap();
    assert_eq!(
        (last.event.as_str(), last.data["code"].as_str()),
        ("error", Some("host_unreachable")),
        "{evs:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    let evs = c.stream_all(&moved, None, 60).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    assert!(
        evs.iter()
            .any(|e| e.data["state"] == "queued" && e.data["host"] == "h2"),
        "{evs:?}"
    );
    let session = session_of(&owner.id);
    assert_eq!(
        h2.rig.receipts(&moved_id),
        1,
        "the moved turn was pasted more than once; the agent's screen on h2:\n{}",
        h2.rig.screen(&session)
    );
    assert!(h2.rig.has_session(&session), "no fresh session on h2");
    assert_eq!(
        pinned(&db, owner.id).await,
        ("h2".to_owned(), Some(session))
    );
    let (_, evs, _) = run(&c, "/echo third").await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    let (reachable, error): (bool, Option<String>) =
        sqlx::query_as("SELECT reachable, last_error FROM hosts WHERE name = 'h1'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(!reachable && error.is_some(), "{reachable} {error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_failover_never_the_user_stays_pinned_and_fails_fast() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "o@x", Role::Owner).await;
    let (mut h1, h2) = (SshHost::start("h1"), SshHost::start("h2"));
    let hosts = format!("{},{}", h1.entry(), h2.entry());
    let _w = worker(&db.url, "ssh-nv", &hosts, &[("PALIADIN_FAILOVER", "never")]);
    wait_host(&db, "h1", true, 20).await;
    wait_host(&db, "h2", true, 20).await;
    let c = Client::new(&api.base, Some(&token));
    let (_, evs, _) = run(&c, "/echo first").await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    h1.stop();
    wait_host(&db, "h1", false, 20).await;
    for _ in 0..2 {
        let (_, evs, took) = run(&c, "/echo anyone?").await;
        assert_eq!(
            evs.last().unwrap().data["code"],
            "host_unreachable",
            "{evs:?}"
        );
        assert!(took < Duration::from_secs(8), "took {took:?}");
    }
    assert_eq!(pinned(&db, owner.id).await.0, "h1");
    assert_eq!(h2.rig.receipts("none"), 0);
}

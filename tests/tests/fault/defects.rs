//! Pins three exactly-once defects found by the fault suite, each with real processes (the API,
//! `paliadin-worker`, the demo agent in a private tmux server) and real PostgreSQL:
//! - a burst of first turns on a freshly started API gets no 5xx (the first enqueue per host
//!   used to take a second pool connection inside its transaction);
//! - a takeover never pastes a message twice: not after the delivery write failed, nor when
//!   the earlier attempt died between its paste and its Enter, nor when it died after its Enter
//!   but before the agent's receipt was written (a slow receipt hook);
//! - a takeover while the reply streams re-emits nothing: the deltas still add up to the reply.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::{ApiProc, audit, signal};
use paliadin_e2e::http::{Client, concat_deltas, next_event, user};
use paliadin_e2e::procs::{TmuxRig, session_of};
use paliadin_e2e::system::start_api;
use paliadin_e2e::wait_until;
use paliadin_shared::db::users::Role;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_first_turns_on_a_fresh_api_gets_no_5xx() {
    let db = TestDb::new().await;
    let mut tokens = Vec::new();
    for i in 0..50 {
        tokens.push(user(&db, &format!("burst{i}@x"), Role::Owner).await.1);
    }
    // A small pool (the hub's LISTEN holds one of the three) makes a nested acquire certain
    // to starve; with the default 32 the same happens once 32 first enqueues overlap.
    let api = ApiProc::start_with(&db, &[("PALIADIN_DB_POOL", "3")]).await;
    let posts = tokens.iter().map(|t| {
        let c = Client::new(&api.base, Some(t));
        async move {
            let body = serde_json::json!({ "user_message": "first" });
            c.post("/api/paliadin/turn", &body).await
        }
    });
    let started = std::time::Instant::now();
    let answers = futures::future::join_all(posts).await;
    let bad: Vec<_> = answers.iter().filter(|(s, _)| *s != 200).collect();
    eprintln!("50 first turns in {} ms", started.elapsed().as_millis());
    assert!(
        bad.is_empty(),
        "{} of 50 failed: {:?}",
        bad.len(),
        bad.first()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_after_a_failed_delivery_write_does_not_paste_again() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    // Every delivery write fails: `delivered_at` stays NULL whatever the agent received.
    sqlx::raw_sql(
        "CREATE FUNCTION no_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'the delivery write fails'; END $$;
         CREATE TRIGGER no_delivery BEFORE UPDATE ON turns FOR EACH ROW
           WHEN (OLD.delivered_at IS NULL AND NEW.delivered_at IS NOT NULL)
           EXECUTE FUNCTION no_delivery();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let mut first = rig.worker(&db.url, "w-doomed");
    let (id, sse) = c.turn("/slow 4000 once only").await;
    let ack = rig.spool.join(format!("{id}.ack"));
    wait_until(30, "the agent's receipt", || {
        let exists = ack.exists();
        async move { exists }
    })
    .await;
    signal(&first, "-KILL");
    first.wait().await.unwrap();
    let _second = rig.worker(&db.url, "w-rescuer");
    let evs = c.stream_all(&sse, None, 60).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    assert_eq!(rig.receipts(&id), 1, "the message was pasted again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_of_a_pasted_but_unsubmitted_turn_is_submitted_once() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    let mut first = rig.worker(&db.url, "w-doomed");
    let (_, sse) = c.turn("hello").await;
    assert_eq!(
        c.stream_all(&sse, None, 60).await.last().unwrap().event,
        "end"
    );
    signal(&first, "-KILL");
    first.wait().await.unwrap();
    // The state a worker leaves when it dies between its paste and its Enter: attempt 1 is
    // running, the envelope sits in the agent's input, nothing was submitted.
    let (id, sse) = c.turn("/echo second").await;
    sqlx::query(
        "UPDATE turns SET state = 'running', attempt = 1, claimed_at = clock_timestamp(),
                worker_id = 'w-doomed' WHERE id = $1",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .execute(&db.pool)
    .await
    .unwrap();
    paste(
        &rig,
        &session_of(&owner.id),
        &format!("[PALIADIN:{id}] /echo second"),
    );
    let _second = rig.worker(&db.url, "w-rescuer");
    let evs = c.stream_all(&sse, None, 60).await;
    let end = evs.last().unwrap();
    assert_eq!(end.event, "end", "{evs:?}");
    let text = end.data["text"].as_str().unwrap();
    assert!(text.starts_with("second\n"), "the agent got: {text:?}");
    assert_eq!(rig.receipts(&id), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_of_a_submitted_turn_whose_receipt_is_late_does_not_paste_again() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    let mut first = rig.worker(&db.url, "w-doomed");
    // The agent takes the message at once and writes its receipt 4 s later.
    let (id, sse) = c.turn("/late-ack 4000").await;
    let session = session_of(&owner.id);
    wait_until(30, "the agent took the message", || {
        let shown = rig.screen(&session).contains("receipt in 4000 ms");
        async move { shown }
    })
    .await;
    // The worker dies after its Enter, before any receipt; its lease runs out at once.
    signal(&first, "-KILL");
    first.wait().await.unwrap();
    sqlx::query("UPDATE pgmq.q_turns_local SET vt = clock_timestamp()")
        .execute(&db.pool)
        .await
        .unwrap();
    let _second = rig.worker(&db.url, "w-rescuer");
    let evs = c.stream_all(&sse, None, 60).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    let submissions = rig
        .screen(&session)
        .matches(&format!("turn {id} received"))
        .count();
    assert_eq!(submissions, 1, "the message was submitted again");
    assert_eq!(rig.receipts(&id), 1);
}

/// Pastes `text` into the session's pane as the driver does (buffer, bracketed), no Enter.
fn paste(rig: &TmuxRig, session: &str, text: &str) {
    let tmux = |args: &[&str]| {
        let ok = std::process::Command::new("tmux")
            .args(["-L", &rig.socket])
            .args(args)
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "tmux {args:?}");
    };
    tmux(&["set-buffer", "-b", "fault", text]);
    let target = format!("={session}:");
    tmux(&["paste-buffer", "-p", "-d", "-b", "fault", "-t", &target]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_while_streaming_keeps_the_deltas_equal_to_the_reply() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    let mut first = rig.worker(&db.url, "w-doomed");
    let (id, sse) = c.turn("/stream 60 a long story").await;
    let (_, mut stream) = c.open_stream(&sse, None).await;
    let mut contents = 0;
    while contents < 5 {
        contents += usize::from(next_event(&mut stream, 30).await.event == "content");
    }
    signal(&first, "-KILL");
    first.wait().await.unwrap();
    let _second = rig.worker(&db.url, "w-rescuer");
    let evs = c.stream_all(&sse, None, 60).await;
    let end = evs.last().unwrap();
    assert_eq!(end.event, "end", "{evs:?}");
    assert_eq!(concat_deltas(&evs), end.data["text"].as_str().unwrap());
    let found = audit(&db, &rig, &[Uuid::parse_str(&id).unwrap()]).await;
    assert!(found.clean(), "{found:?}");
}

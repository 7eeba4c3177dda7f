//! A turn's attempts and its dead letter, with real processes (the API in-process,
//! `paliadin-worker` processes, the demo agent in a private tmux server) and real PostgreSQL:
//! - graceful handovers (SIGTERM releases) do not spend attempts: a turn handed over more
//!   times than `PALIADIN_MAX_ATTEMPTS` still succeeds, pasted once;
//! - a dead-lettered turn that was delivered has its agent interrupted before the user's next
//!   turn is pasted, so that turn does not join the dead one (defect 10.7 b).

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::{audit, signal};
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::TmuxRig;
use paliadin_e2e::system::start_api;
use paliadin_e2e::wait_until;
use paliadin_shared::db::users::Role;
use uuid::Uuid;

/// `(attempt, releases, delivered)` of a turn.
async fn attempts(db: &TestDb, id: Uuid) -> (i32, i32, bool) {
    sqlx::query_as("SELECT attempt, releases, delivered_at IS NOT NULL FROM turns WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handovers_beyond_max_attempts_do_not_dead_letter_a_turn() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    let env = [
        ("PALIADIN_MAX_ATTEMPTS", "2"),
        ("PALIADIN_SHUTDOWN_GRACE_SECS", "0"),
        ("PALIADIN_LEASE_SECS", "30"),
    ];
    let (id, sse) = c.turn("/slow 3000 handed over").await;
    let id = Uuid::parse_str(&id).unwrap();
    let handovers = 3;
    for k in 1..=handovers {
        let mut w = rig.worker_with(&db.url, &format!("w-{k}"), &env);
        wait_until(30, "this worker holds the delivered turn", || async {
            let (attempt, _, delivered) = attempts(&db, id).await;
            attempt == k && delivered
        })
        .await;
        signal(&w, "-TERM");
        assert!(w.wait().await.unwrap().success());
        let state: String = sqlx::query_scalar("SELECT state FROM turns WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(state, "running", "dead-lettered at handover {k}");
        assert_eq!(attempts(&db, id).await.1, k, "the handover was not counted");
    }
    let _last = rig.worker_with(&db.url, "w-last", &env);
    let evs = c.stream_all(&sse, None, 60).await;
    assert_eq!(evs.last().unwrap().event, "end", "{evs:?}");
    assert_eq!(attempts(&db, id).await, (handovers + 1, handovers, true));
    let found = audit(&db, &rig, &[id]).await;
    assert!(found.clean(), "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_delivered_turn_is_interrupted_before_the_next_paste() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let rig = TmuxRig::new();
    let env = [("PALIADIN_MAX_ATTEMPTS", "1")];
    let mut first_worker = rig.worker_with(&db.url, "w-doomed", &env);
    let (dead, dead_sse) = c.turn("/slow 40000 never finished").await;
    let (next, next_sse) = c.turn("/echo next").await;
    let ack = rig.spool.join(format!("{dead}.ack"));
    wait_until(30, "the agent's receipt of the first turn", || {
        let exists = ack.exists();
        async move { exists }
    })
    .await;
    // The only allowed attempt dies after delivery: the next claim dead-letters the turn.
    signal(&first_worker, "-KILL");
    first_worker.wait().await.unwrap();
    let _rescuer = rig.worker_with(&db.url, "w-rescuer", &env);
    let evs = c.stream_all(&dead_sse, None, 60).await;
    let last = evs.last().unwrap();
    assert_eq!(
        (last.event.as_str(), last.data["code"].as_str()),
        ("error", Some("worker_lost")),
        "{evs:?}"
    );
    let evs = c.stream_all(&next_sse, None, 60).await;
    let end = evs.last().unwrap();
    assert_eq!(end.event, "end", "{evs:?}");
    assert!(
        end.data["text"].as_str().unwrap().starts_with("next\n"),
        "{evs:?}"
    );
    // Had the agent not been interrupted, it would have finished the dead turn first (40 s)
    // and only then answered the next one.
    let replied = [
        rig.spool.join(format!("{dead}.md")),
        rig.spool.join("done").join(format!("{dead}.md")),
    ];
    assert!(
        !replied.iter().any(|p| p.exists()),
        "the agent went on with the dead-lettered turn"
    );
    assert_eq!((rig.receipts(&dead), rig.receipts(&next)), (1, 1));
}

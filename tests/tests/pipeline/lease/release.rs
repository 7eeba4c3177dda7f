//! Fencing of an [`Attempt`]'s own writes: a stale attempt writes nothing, its release
//! (`set_vt 0`) is one step with its ownership check, and its failover move moves nobody; a turn
//! whose message a move re-sent to another host is not claimed from the message read before.

use super::message;
use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::system::start_api;
use paliadin_e2e::wait_until;
use paliadin_shared::attempt::{Attempt, Claimer, Lease, Outcome, TurnControl};
use paliadin_shared::db::turns;
use paliadin_shared::db::users::Role;
use paliadin_shared::domain::trailer::{Reply, Trailer};
use paliadin_shared::events::NewEvent;
use paliadin_shared::queue::{Leased, TurnQueue};
use paliadin_shared::{HostName, TurnState};
use std::sync::Arc;
use std::time::Duration;

async fn claimer(db: &TestDb, worker: &str) -> Claimer {
    Claimer {
        pool: db.pool.clone(),
        queue: Arc::new(TurnQueue::new(db.pool.clone()).await),
        worker_id: worker.into(),
        lease: Lease {
            secs: 30,
            every: Duration::from_secs(10),
        },
        max_attempts: 3,
    }
}

/// Queues one turn and reads its message (leased for 30 s).
async fn leased_turn(db: &TestDb) -> Leased {
    let api = start_api(db, ApiConfig::default()).await;
    let (_, token) = user(db, "o@x", Role::Owner).await;
    Client::new(&api.base, Some(&token)).turn("hello").await;
    let queue = TurnQueue::new(db.pool.clone()).await;
    let mut read = queue.read_heads(&HostName::local(), 30, 1).await.unwrap();
    read.pop().expect("one message")
}

async fn claim(db: &TestDb, worker: &str, leased: &Leased) -> Attempt {
    let c = claimer(db, worker).await;
    c.claim(leased, TurnControl::default())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_stale_attempt_can_write_nothing() {
    let db = TestDb::new().await;
    let leased = leased_turn(&db).await;
    let first = claim(&db, "old", &leased).await;
    let second = claim(&db, "new", &leased).await;
    assert_eq!((first.number(), second.number()), (1, 2));
    let id = leased.turn_id;
    let before = turns::get(&db.pool, id).await.unwrap().unwrap().last_seq;
    assert!(!first.append(&NewEvent::content("stale")).await);
    assert!(first.is_lost() && first.control().abandon.is_cancelled());
    assert!(!first.append_all(&[NewEvent::content("stale")]).await);
    assert!(!first.mark_delivered().await);
    let reply = Reply {
        text: "stale".into(),
        trailer: Trailer {
            classifier_tag: "x".into(),
            ..Trailer::default()
        },
        usage: Vec::new(),
        agent: None,
    };
    assert!(
        !first
            .finish(Outcome::Succeeded(reply.clone()))
            .await
            .unwrap()
    );
    let row = turns::get(&db.pool, id).await.unwrap().unwrap();
    assert_eq!((row.last_seq, row.state), (before, TurnState::Running));
    // The current attempt still can.
    assert!(second.append(&NewEvent::content("fresh")).await);
    assert!(second.finish(Outcome::Succeeded(reply)).await.unwrap());
    assert_eq!(message(&db, &id.to_string()).await, None, "archived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_release_cannot_expose_a_newer_owners_message() {
    let db = TestDb::new().await;
    let leased = leased_turn(&db).await;
    let old = claim(&db, "old", &leased).await;
    // A newer owner's claim, not committed yet (its worker read the message after the old
    // lease lapsed): the old worker's release races it.
    let mut newer = db.pool.begin().await.unwrap();
    sqlx::query("UPDATE turns SET attempt = attempt + 1, worker_id = 'new' WHERE id = $1")
        .bind(leased.turn_id)
        .execute(&mut *newer)
        .await
        .unwrap();
    let release = tokio::spawn(old.release());
    wait_until(
        10,
        "the release waits for the claim, or is done",
        || async {
            let waiting: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                             WHERE datname = current_database() AND wait_event_type = 'Lock')",
            )
            .fetch_one(&db.pool)
            .await
            .unwrap();
            waiting || release.is_finished()
        },
    )
    .await;
    newer.commit().await.unwrap();
    assert!(
        !release.await.unwrap(),
        "a stale attempt released the message"
    );
    let id = leased.turn_id.to_string();
    assert_eq!(
        message(&db, &id).await.map(|m| m.0),
        Some(true),
        "the newer owner's message became visible"
    );
}

#[tokio::test]
async fn a_stale_attempt_cannot_move_its_user_to_another_host() {
    let db = TestDb::new().await;
    let leased = leased_turn(&db).await;
    sqlx::query("INSERT INTO hosts (name) VALUES ('local'), ('spare') ON CONFLICT DO NOTHING")
        .execute(&db.pool)
        .await
        .unwrap();
    let pinned_to = || async {
        sqlx::query_scalar::<_, String>("SELECT host FROM agent_sessions")
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    let old = claim(&db, "old", &leased).await;
    let new = claim(&db, "new", &leased).await;
    // The old worker found the host unreachable after its turn had passed to the new one.
    assert_eq!(old.move_user().await.unwrap(), None);
    assert_eq!(pinned_to().await, "local", "a stale attempt moved the user");
    // The owner may.
    let moved = new.move_user().await.unwrap().expect("moved");
    assert_eq!(
        (moved.to.as_str(), pinned_to().await.as_str()),
        ("spare", "spare")
    );
}

#[tokio::test]
async fn a_turn_moved_to_another_host_is_not_claimed_from_its_old_message() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    // Two conversations of one owner: both turns are group heads, read at once.
    for conversation in [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()] {
        let body = serde_json::json!({ "user_message": "hello", "session_id": conversation });
        assert_eq!(c.post("/api/paliadin/turn", &body).await.0, 200);
    }
    let queue = TurnQueue::new(db.pool.clone()).await;
    let read = queue.read_heads(&HostName::local(), 30, 2).await.unwrap();
    assert_eq!(read.len(), 2, "one head per conversation");
    sqlx::query("INSERT INTO hosts (name) VALUES ('local'), ('spare') ON CONFLICT DO NOTHING")
        .execute(&db.pool)
        .await
        .unwrap();
    // The first turn's worker finds the host unreachable and moves the owner, with the
    // other conversation's queued turn, whose message another worker has just read.
    let failing = claim(&db, "w1", &read[0]).await;
    let moved = failing.move_user().await.unwrap().expect("moved");
    assert_eq!(moved.turns, vec![read[1].turn_id]);
    // That worker's claim of the old message fails: the turn runs once, from the spare host.
    let late = claimer(&db, "w2").await;
    let got = late.claim(&read[1], TurnControl::default()).await.unwrap();
    assert!(
        got.is_none(),
        "claimed from a message the move had replaced"
    );
    let row = turns::get(&db.pool, read[1].turn_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.host.as_str(), row.attempt), ("spare", 0));
    let spare = queue
        .read_heads(&HostName::parse("spare").unwrap(), 30, 1)
        .await
        .unwrap();
    let fresh = claim(&db, "w3", &spare[0]).await;
    assert_eq!(fresh.number(), 1);
}

#[tokio::test]
async fn a_claim_writes_its_claimed_event_and_several_events_go_in_one_statement() {
    let db = TestDb::new().await;
    let leased = leased_turn(&db).await;
    let id = leased.turn_id;
    let kinds = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            let rows: Vec<(i32, String, Option<String>)> = sqlx::query_as(
                "SELECT seq, kind, data->>'state' FROM turn_events WHERE turn_id = $1 ORDER BY seq",
            )
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap();
            rows
        }
    };
    let queued = kinds(&db).await.len() as i32;
    let attempt = claim(&db, "w1", &leased).await;
    let after_claim = kinds(&db).await;
    let last = after_claim.last().unwrap().clone();
    assert_eq!(last, (queued + 1, "status".into(), Some("claimed".into())));
    assert_eq!(attempt.turn().last_seq, queued + 1);
    let evs = [
        attempt.status_event(paliadin_shared::events::StatusState::Answering),
        NewEvent::content("a"),
        NewEvent::activity("b"),
    ];
    assert!(attempt.append_all(&evs).await);
    let all = kinds(&db).await;
    let tail: Vec<_> = all[all.len() - 3..].to_vec();
    assert_eq!(
        tail,
        vec![
            (queued + 2, "status".into(), Some("answering".into())),
            (queued + 3, "content".into(), None),
            (queued + 4, "activity".into(), None),
        ]
    );
    let row = turns::get(&db.pool, id).await.unwrap().unwrap();
    assert_eq!(row.last_seq, queued + 4);
    // A claim past the attempt limit gets no `claimed` event: its caller dead-letters it.
    let strict = Claimer {
        max_attempts: 1,
        ..claimer(&db, "w2").await
    };
    strict
        .claim(&leased, TurnControl::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        kinds(&db).await.len(),
        all.len(),
        "no event for attempt 2 of 1"
    );
}

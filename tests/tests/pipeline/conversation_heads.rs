//! Conversations side by side in the queue (issue 21): a turn's message is grouped by its
//! conversation (`x-pgmq-group = <session_id>`, `TurnQueue::payload`), so the head read gives
//! one head per conversation. Two conversations of one owner, posted through the API: both
//! oldest turns are leased and claimed at once, and each conversation's next turn becomes a head
//! only when its own earlier turn is finished, whatever the other conversation does.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::heads::turns_of;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::system::start_api;
use paliadin_shared::HostName;
use paliadin_shared::attempt::{Attempt, Claimer, Lease, Outcome};
use paliadin_shared::db::users::Role;
use paliadin_shared::domain::trailer::{Reply, Trailer};
use paliadin_shared::queue::TurnQueue;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Leases the heads of the local queue and claims each; returns the attempts by turn, sorted.
async fn claim_heads(claimer: &Claimer) -> Vec<(Uuid, Attempt)> {
    paliadin_e2e::heads::claim_heads(claimer, &HostName::local()).await
}

async fn succeed(attempt: Attempt) {
    let reply = Reply {
        text: "done".into(),
        trailer: Trailer {
            classifier_tag: "x".into(),
            ..Trailer::default()
        },
        usage: Vec::new(),
        agent: None,
    };
    assert!(attempt.finish(Outcome::Succeeded(reply)).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owners_conversations_each_have_a_head_and_keep_their_own_order() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "o@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let mut posted = Vec::new();
    for (session, message) in [(a, "a1"), (b, "b1"), (a, "a2"), (b, "b2"), (a, "a3")] {
        let body = json!({"user_message": message, "session_id": session.to_string()});
        let (s, v) = c.post("/api/paliadin/turn", &body).await;
        assert_eq!(s, 200, "{v}");
        posted.push(Uuid::parse_str(v["turn_id"].as_str().unwrap()).unwrap());
    }
    let [a1, b1, a2, b2, a3] = posted[..] else {
        unreachable!()
    };
    let groups: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT (message->>'turn_id')::uuid, headers->>'x-pgmq-group'
           FROM pgmq.q_turns_local ORDER BY msg_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let conversation = |s: Uuid| s.to_string();
    assert_eq!(
        groups,
        [
            (a1, conversation(a)),
            (b1, conversation(b)),
            (a2, conversation(a)),
            (b2, conversation(b)),
            (a3, conversation(a)),
        ],
        "each message is grouped by its turn's conversation"
    );

    let claimer = Claimer {
        pool: db.pool.clone(),
        queue: Arc::new(TurnQueue::new(db.pool.clone()).await),
        worker_id: "w".into(),
        lease: Lease {
            secs: 3600,
            every: Duration::from_secs(3600),
        },
        max_attempts: 3,
    };
    // One head per conversation, the oldest of each; both claimed: the owner's two turns run
    // at the same time.
    let mut first = claim_heads(&claimer).await;
    assert_eq!(turns_of(&first), sorted([a1, b1]));
    let running: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM turns WHERE user_id = (SELECT user_id FROM turns WHERE id = $1)
            AND state = 'running'",
    )
    .bind(a1)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(running, 2, "two turns of one owner running at once");
    // Within a conversation only the oldest is a head: nothing more while both run.
    assert!(claim_heads(&claimer).await.is_empty());

    // The first conversation's turn ends: its next turn is the head, the other still waits.
    let (_, b1_attempt) = first.pop().unwrap();
    let (_, a1_attempt) = first.pop().unwrap();
    succeed(a1_attempt).await;
    let second = claim_heads(&claimer).await;
    assert_eq!(turns_of(&second), [a2]);
    // Then the second conversation's.
    succeed(b1_attempt).await;
    let third = claim_heads(&claimer).await;
    assert_eq!(turns_of(&third), [b2]);
    for (_, attempt) in second.into_iter().chain(third) {
        succeed(attempt).await;
    }
    assert_eq!(turns_of(&claim_heads(&claimer).await), [a3]);
}

fn sorted<const N: usize>(mut ids: [Uuid; N]) -> [Uuid; N] {
    ids.sort();
    ids
}

//! The upgrade to conversation groups (migration `20261209000100_conversation_groups.sql`): a
//! database at the schema before it (every earlier migration, plus pgmq) holds turns sent as
//! the earlier releases sent them, grouped by their owner (`x-pgmq-group = <user_id>`): on one
//! host an owner's four queued turns in two conversations behind a fifth that is in flight
//! (leased and claimed), on a second host another owner's three in two conversations. Those were
//! accepted as "one at a time, in the order posted" and keep it: after the migration each
//! owner's messages are still one group, named after the owner's latest conversation, and run
//! in the order posted, every message still there with its lease, read count and body; a turn
//! the new release sends in another conversation of the owner runs beside them.

use paliadin_e2e::db::TestDb;
use paliadin_e2e::heads::{claim_heads, turns_of};
use paliadin_shared::HostName;
use paliadin_shared::attempt::{Claimer, Lease, Outcome};
use paliadin_shared::queue::{SEND_SQL, TurnQueue};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The migration under test: the schema before it is every migration older than this.
const MIGRATION: i64 = 20261209000100;

/// Creates the schema as it was before [`MIGRATION`] in `db`.
async fn previous_schema(db: &TestDb) {
    pgmq::install::install_sql_from_embedded(&db.pool)
        .await
        .expect("install pgmq");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
    let dir = std::env::temp_dir().join(format!("paliadin-before-groups-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let version: Option<i64> = name.split('_').next().and_then(|v| v.parse().ok());
        if version.is_some_and(|v| v < MIGRATION) {
            std::fs::copy(format!("{src}/{name}"), dir.join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(dir.as_path()).await.unwrap();
    migrator
        .run(&db.pool)
        .await
        .expect("the earlier migrations");
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn add_owner(db: &TestDb, email: &str, host: &str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO users (id, email, role) VALUES ($1, $2, 'owner')")
        .bind(id)
        .bind(email)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO agent_sessions (user_id, host) VALUES ($1, $2)")
        .bind(id)
        .bind(host)
        .execute(&db.pool)
        .await
        .unwrap();
    id
}

/// A queued turn of `user` in conversation `session` on `host`, its message sent with the group
/// `group` (the earlier releases grouped by the owner, this one by the conversation).
async fn queued_turn(db: &TestDb, host: &HostName, user: Uuid, session: Uuid, group: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    let mut tx = db.pool.begin().await.unwrap();
    let msg: i64 = sqlx::query_scalar(SEND_SQL)
        .bind(host.queue_name())
        .bind(json!({ "turn_id": id }))
        .bind(json!({ "x-pgmq-group": group.to_string() }))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO turns (id, user_id, session_id, message, host, msg_id)
         VALUES ($1, $2, $3, 'queued', $4, $5)",
    )
    .bind(id)
    .bind(user)
    .bind(session)
    .bind(host.as_str())
    .bind(msg)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// A turn sent as the earlier releases sent it: grouped by the owner.
async fn old_turn(db: &TestDb, host: &HostName, user: Uuid, session: Uuid) -> Uuid {
    queued_turn(db, host, user, session, user).await
}

/// A queue's messages: turn, msg_id, read count, lease end, body, group; in msg_id order.
type Row = (Uuid, i64, i32, String, Value, Option<String>);

async fn messages(db: &TestDb, host: &HostName) -> Vec<Row> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT (message->>'turn_id')::uuid, msg_id, read_ct, vt::text, message,
                headers->>'x-pgmq-group'
           FROM pgmq.q_{} ORDER BY msg_id",
        host.queue_name()
    )))
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_and_in_flight_turns_keep_their_owners_order() {
    let db = TestDb::empty().await;
    previous_schema(&db).await;
    let queue = Arc::new(TurnQueue::new(db.pool.clone()).await);
    let (local, other) = (HostName::local(), HostName::parse("other").unwrap());
    for host in [&local, &other] {
        queue.ensure(host).await.unwrap();
    }
    let claimer = Claimer {
        pool: db.pool.clone(),
        queue: queue.clone(),
        worker_id: "old-w".into(),
        lease: Lease {
            secs: 3600,
            every: Duration::from_secs(3600),
        },
        max_attempts: 3,
    };

    // Owner o on `local`: a1 in flight, then b1, a2, b2, a3 queued.
    let o = add_owner(&db, "o@x", "local").await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let a1 = old_turn(&db, &local, o, a).await;
    let mut in_flight = claim_heads(&claimer, &local).await;
    assert_eq!(turns_of(&in_flight), [a1]);
    let (_, a1_attempt) = in_flight.pop().unwrap();
    let b1 = old_turn(&db, &local, o, b).await;
    let a2 = old_turn(&db, &local, o, a).await;
    let b2 = old_turn(&db, &local, o, b).await;
    let a3 = old_turn(&db, &local, o, a).await;
    // Owner p on `other`: c1, then two in d, the latest conversation.
    let p = add_owner(&db, "p@x", "other").await;
    let (cc, d) = (Uuid::now_v7(), Uuid::now_v7());
    let c1 = old_turn(&db, &other, p, cc).await;
    old_turn(&db, &other, p, d).await;
    old_turn(&db, &other, p, d).await;
    let before = [messages(&db, &local).await, messages(&db, &other).await];
    // Each owner is one group so far: o's is held by a1.
    let owner = |u: Uuid| Some(u.to_string());
    assert!(before[0].iter().all(|m| m.5 == owner(o)), "{before:?}");
    assert!(before[1].iter().all(|m| m.5 == owner(p)), "{before:?}");

    // The upgrade: the release's migrations, as `paliadin-api migrate` applies them.
    paliadin_shared::db::migrate(&db.pool).await.unwrap();

    // Every message is still there, unchanged but for its group: its owner's latest
    // conversation (o's: a, a3's; p's: d).
    let after = [messages(&db, &local).await, messages(&db, &other).await];
    for ((was, is), latest) in before.iter().zip(&after).zip([a, d]) {
        let expected: Vec<Row> = was
            .iter()
            .cloned()
            .map(|(turn, msg, read_ct, vt, body, _)| {
                (turn, msg, read_ct, vt, body, Some(latest.to_string()))
            })
            .collect();
        assert_eq!(is, &expected, "the messages kept, one group per owner");
    }

    // a1 still holds o's older turns back; p's run one at a time from the first.
    let claimer = Claimer {
        worker_id: "new-w".into(),
        ..claimer
    };
    assert!(claim_heads(&claimer, &local).await.is_empty());
    assert_eq!(turns_of(&claim_heads(&claimer, &other).await), [c1]);
    // A turn of a new conversation of o, sent by this release, runs beside a1 at once.
    let e = Uuid::now_v7();
    let e1 = new_turn(&db, &local, o, e).await;
    let mut beside = claim_heads(&claimer, &local).await;
    assert_eq!(turns_of(&beside), [e1]);
    // A turn of o's latest conversation waits behind every older one.
    let a4 = new_turn(&db, &local, o, a).await;
    let (_, e1_attempt) = beside.pop().unwrap();
    assert!(e1_attempt.finish(Outcome::Cancelled).await.unwrap());
    assert!(claim_heads(&claimer, &local).await.is_empty());
    // The rest in the order posted, one at a time.
    let mut running = a1_attempt;
    for next in [b1, a2, b2, a3, a4] {
        assert!(running.finish(Outcome::Cancelled).await.unwrap());
        let mut claimed = claim_heads(&claimer, &local).await;
        assert_eq!(turns_of(&claimed), [next]);
        running = claimed.pop().unwrap().1;
    }
}

/// A turn sent as this release sends it: grouped by its conversation.
async fn new_turn(db: &TestDb, host: &HostName, user: Uuid, session: Uuid) -> Uuid {
    queued_turn(db, host, user, session, session).await
}

//! An upgrade from the first release's schema: a database created by the first migration set
//! (the two `20261124*` migrations, applied from a directory holding only them, plus pgmq) and
//! filled with turns in every state is migrated by `paliadin-api migrate` to the latest. Nothing
//! is lost (rows, events, replies), the queued turn is then served by a worker to `end`, and the
//! finished turns replay over SSE exactly as stored.

use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::ApiProc;
use paliadin_e2e::http::Client;
use paliadin_e2e::procs::{self, TmuxRig};
use paliadin_shared::db::events;
use paliadin_shared::domain::HostName;
use paliadin_shared::events::{EventKind, NewEvent};
use paliadin_shared::queue::TurnQueue;
use serde_json::{Value, json};
use uuid::Uuid;

/// The first release's migrations.
const FIRST_SET: [&str; 2] = [
    "20261124000001_core.sql",
    "20261124000002_stats_indexes.sql",
];

/// Creates the first release's schema in `db`.
async fn first_release_schema(db: &TestDb) {
    pgmq::install::install_sql_from_embedded(&db.pool)
        .await
        .expect("install pgmq");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
    let dir = std::env::temp_dir().join(format!("paliadin-first-set-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in FIRST_SET {
        std::fs::copy(format!("{src}/{f}"), dir.join(f)).unwrap();
    }
    let migrator = sqlx::migrate::Migrator::new(dir.as_path()).await.unwrap();
    migrator.run(&db.pool).await.expect("first migration set");
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn add_user(db: &TestDb, email: &str) -> (Uuid, String) {
    let (id, token) = (Uuid::now_v7(), paliadin_shared::secret::new_token());
    sqlx::query("INSERT INTO users (id, email, role) VALUES ($1, $2, 'owner')")
        .bind(id)
        .bind(email)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO api_tokens (token_hash, user_id) VALUES ($1, $2)")
        .bind(paliadin_shared::secret::hash(&token).as_slice())
        .bind(id)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO agent_sessions (user_id, host) VALUES ($1, 'local')")
        .bind(id)
        .execute(&db.pool)
        .await
        .unwrap();
    (id, token)
}

/// Inserts a turn with the first release's columns, `set` giving the state-specific ones, and
/// appends `evs` after its `meta` and `status: queued`.
async fn add_turn(db: &TestDb, user: Uuid, state: &str, set: &str, evs: &[NewEvent]) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO turns (id, user_id, session_id, message, host, state, queued_at) \
         VALUES ($1, $2, $3, 'hello from the old release', 'local', 'queued', \
         now() - interval '1 hour')",
    )
    .bind(id)
    .bind(user)
    .bind(Uuid::now_v7())
    .execute(&db.pool)
    .await
    .unwrap_or_else(|e| panic!("{state}: {e}"));
    if !set.is_empty() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE turns SET state = $2, {set} WHERE id = $1"
        )))
        .bind(id)
        .bind(state)
        .execute(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{state}: {e}"));
    }
    let mut conn = db.pool.acquire().await.unwrap();
    let first = [
        NewEvent {
            kind: EventKind::Meta,
            data: json!({ "turn_id": id }),
        },
        NewEvent {
            kind: EventKind::Status,
            data: json!({ "state": "queued", "host": "local" }),
        },
    ];
    for ev in first.iter().chain(evs) {
        events::append(&mut conn, id, None, ev).await.unwrap();
    }
    id
}

/// Every table's row count and every event, to compare before and after.
async fn snapshot(
    db: &TestDb,
) -> (
    Vec<i64>,
    Vec<(Uuid, i32, String, Value)>,
    Vec<Option<String>>,
) {
    let mut counts = Vec::new();
    for t in [
        "users",
        "api_tokens",
        "agent_sessions",
        "turns",
        "turn_events",
    ] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
            .fetch_one(&db.pool)
            .await
            .unwrap();
        counts.push(n);
    }
    let evs = sqlx::query_as("SELECT turn_id, seq, kind, data FROM turn_events ORDER BY 1, 2")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let replies = sqlx::query_scalar("SELECT reply_text FROM turns ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    (counts, evs, replies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_schema_upgrades_with_no_loss_and_serves_its_queued_turn() {
    let db = TestDb::empty().await;
    first_release_schema(&db).await;
    let (alice, token) = add_user(&db, "alice@x").await;
    let (bob, _) = add_user(&db, "bob@x").await;
    let fin = "claimed_at = now() - interval '59 minutes', finished_at = now() - interval '58 minutes', \
               attempt = 1, worker_id = 'old-w'";
    let end = NewEvent {
        kind: EventKind::End,
        data: json!({ "text": "old reply", "html": "<p>old reply</p>" }),
    };
    let succeeded = add_turn(
        &db,
        alice,
        "succeeded",
        &format!("{fin}, reply_text = 'old reply'"),
        &[NewEvent::content("old "), NewEvent::content("reply"), end],
    )
    .await;
    let failed = add_turn(
        &db,
        alice,
        "failed",
        &format!("{fin}, error_code = 'agent_timeout', error_message = 'too slow'"),
        &[NewEvent {
            kind: EventKind::Error,
            data: json!({ "code": "agent_timeout", "message": "too slow" }),
        }],
    )
    .await;
    let cancelled = add_turn(&db, alice, "cancelled", fin, &[NewEvent::cancelled()]).await;
    // Running on bob's session under an old worker (no queue message left: it was claimed).
    let running = add_turn(
        &db,
        bob,
        "running",
        "claimed_at = now(), attempt = 1, worker_id = 'old-w'",
        &[NewEvent::content("partial")],
    )
    .await;
    // Queued, with its message in the host's queue as the first release sent it.
    let queued = add_turn(&db, alice, "queued", "", &[]).await;
    let queue = TurnQueue::new(db.pool.clone()).await;
    let host = HostName::parse("local").unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    // The first release created its queues with pgmq alone (no group-head index).
    sqlx::query("SELECT pgmq.create('turns_local')")
        .execute(&mut *conn)
        .await
        .unwrap();
    let msg = queue.send(&mut conn, &host, queued, alice).await.unwrap();
    drop(conn);
    sqlx::query("UPDATE turns SET msg_id = $2 WHERE id = $1")
        .bind(queued)
        .bind(msg)
        .execute(&db.pool)
        .await
        .unwrap();
    let before = snapshot(&db).await;

    // The upgrade: the release's `migrate`, as the operator runs it.
    let out = std::process::Command::new(procs::binary("paliadin-api"))
        .arg("migrate")
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        snapshot(&db).await,
        before,
        "the upgrade kept every row and event"
    );
    let states: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, state FROM turns ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(states.len(), 5);
    assert!(states.contains(&(running, "running".into())));
    let indexed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'q_turns_local_group_head')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        indexed,
        "the existing queue did not get its group-head index"
    );

    // The new release serves the queued turn.
    let api = ApiProc::start(&db).await;
    let rig = TmuxRig::new();
    let _worker = rig.worker(&db.url, "w-new");
    let c = Client::new(&api.base, Some(&token));
    let evs = c
        .stream_all(&format!("/api/paliadin/stream/{queued}"), None, 60)
        .await;
    assert_eq!(evs.last().map(|e| e.event.as_str()), Some("end"), "{evs:?}");
    let state: String = sqlx::query_scalar("SELECT state FROM turns WHERE id = $1")
        .bind(queued)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(state, "succeeded");

    // The finished turns replay over SSE as they were stored.
    for (id, last) in [
        (succeeded, "end"),
        (failed, "error"),
        (cancelled, "cancelled"),
    ] {
        let evs = c
            .stream_all(&format!("/api/paliadin/stream/{id}"), None, 20)
            .await;
        let stored: Vec<(i32, String, Value)> = before
            .1
            .iter()
            .filter(|e| e.0 == id)
            .map(|e| (e.1, e.2.clone(), e.3.clone()))
            .collect();
        let got: Vec<(i32, String, Value)> =
            evs.into_iter().map(|e| (e.id, e.event, e.data)).collect();
        assert_eq!(got, stored, "{last}");
        assert_eq!(got.last().unwrap().1, last);
    }
}

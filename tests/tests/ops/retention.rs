//! Retention of old turns: with 1 day, turns finished 2 days ago go with their events, recent
//! and unfinished ones stay, batches cover more than one statement, one process at a time (the
//! advisory lock held elsewhere makes a second run do nothing), the admin stats still answer,
//! and a worker with `PALIADIN_TURN_RETENTION_DAYS=1` runs it on start; 0 keeps everything.

use paliadin_e2e::db::TestDb;
use paliadin_e2e::procs::TmuxRig;
use paliadin_shared::db::retention::{self, RETENTION_LOCK};
use paliadin_shared::db::stats;
use uuid::Uuid;

/// A user with `old` turns finished 2 days ago, one finished just now, one queued and one
/// running queued 3 days ago; each turn with one event. Returns (old ids, kept ids).
async fn fill(db: &TestDb, old: usize) -> (Vec<Uuid>, Vec<Uuid>) {
    let user = Uuid::now_v7();
    sqlx::query("INSERT INTO users (id, email, role) VALUES ($1, $2, 'owner')")
        .bind(user)
        .bind(format!("{user}@x"))
        .execute(&db.pool)
        .await
        .unwrap();
    let ins = |state: &'static str, age: &'static str, finished: bool| {
        let id = Uuid::now_v7();
        let fin = if finished {
            "now() - $4::interval"
        } else {
            "NULL"
        };
        let claimed = if state == "queued" {
            "NULL"
        } else {
            "now() - $4::interval"
        };
        let sql = format!(
            "WITH t AS (INSERT INTO turns (id, user_id, session_id, message, host, state, \
             queued_at, claimed_at, finished_at, reply_text, last_seq) \
             VALUES ($1, $2, $1, 'm', 'local', $3, now() - $4::interval - interval '1 minute', \
             {claimed}, {fin}, 'r', 1) RETURNING id) \
             INSERT INTO turn_events (turn_id, seq, kind, data) SELECT id, 1, 'meta', '{{}}' FROM t"
        );
        let pool = db.pool.clone();
        async move {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(user)
                .bind(state)
                .bind(age)
                .execute(&pool)
                .await
                .unwrap();
            id
        }
    };
    let mut gone = Vec::new();
    for _ in 0..old {
        gone.push(ins("succeeded", "2 days", true).await);
    }
    let kept = vec![
        ins("succeeded", "1 hour", true).await,
        ins("queued", "3 days", false).await,
        ins("running", "3 days", false).await,
    ];
    (gone, kept)
}

async fn present(db: &TestDb, ids: &[Uuid]) -> (i64, i64) {
    let turns = sqlx::query_scalar("SELECT count(*) FROM turns WHERE id = ANY($1)")
        .bind(ids)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let events = sqlx::query_scalar("SELECT count(*) FROM turn_events WHERE turn_id = ANY($1)")
        .bind(ids)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    (turns, events)
}

#[tokio::test]
async fn old_finished_turns_go_in_batches_and_the_rest_stays() {
    let db = TestDb::new().await;
    let (gone, kept) = fill(&db, 7).await;
    // Another process holds the lock: this one does nothing.
    let mut other = db.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(RETENTION_LOCK)
        .execute(&mut *other)
        .await
        .unwrap();
    assert_eq!(retention::run_once(&db.pool, 1, 3).await.unwrap(), None);
    assert_eq!(present(&db, &gone).await, (7, 7));
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(RETENTION_LOCK)
        .execute(&mut *other)
        .await
        .unwrap();
    // Batches of 3: three statements delete the 7.
    assert_eq!(retention::run_once(&db.pool, 1, 3).await.unwrap(), Some(7));
    assert_eq!(present(&db, &gone).await, (0, 0));
    assert_eq!(present(&db, &kept).await, (3, 3));
    // A second run finds nothing; the lock was released.
    assert_eq!(retention::run_once(&db.pool, 1, 3).await.unwrap(), Some(0));
    let s = stats::collect(&db.pool, "24h", 86400).await;
    s.expect("the admin stats still answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_retention_deletes_on_start_and_zero_keeps() {
    let db = TestDb::new().await;
    let (gone, kept) = fill(&db, 2).await;
    let rig = TmuxRig::new();
    // Off (0): a worker that has started and registered deleted nothing.
    let w0 = rig.worker_with(&db.url, "w-keep", &[("PALIADIN_TURN_RETENTION_DAYS", "0")]);
    paliadin_e2e::wait_until(20, "the worker registers", || {
        let q = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM workers WHERE id = 'w-keep'")
            .fetch_one(&db.pool);
        async move { q.await.unwrap() == 1 }
    })
    .await;
    drop(w0);
    assert_eq!(present(&db, &gone).await, (2, 2));
    let _w1 = rig.worker_with(&db.url, "w-ret", &[("PALIADIN_TURN_RETENTION_DAYS", "1")]);
    paliadin_e2e::wait_until(20, "the worker deletes the old turns", || {
        let p = present(&db, &gone);
        async move { p.await == (0, 0) }
    })
    .await;
    assert_eq!(present(&db, &kept).await, (3, 3));
}

//! Pins the workers' read of the queue heads (`TurnQueue::heads_sql`, the index walk written
//! for each queue's table) and `paliadin_read_heads` (the same walk as a function, migration
//! `20261201000002_queue_heads.sql`, which older workers call) to pgmq's `read_grouped_head`
//! contract, with real PostgreSQL/pgmq: on 40 pseudo-random queues — groups of 1 to 20
//! messages, some heads and some later messages leased (invisible), several batch sizes — all
//! three lease exactly the same messages, in the same order; and a queue created by `TurnQueue`
//! has the group-head index.

use paliadin_e2e::db::TestDb;
use paliadin_shared::HostName;
use paliadin_shared::queue::TurnQueue;
use sqlx::PgPool;
use uuid::Uuid;

/// A small deterministic generator (no dependency; the sequence is the same on every run).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const PGMQ: &str = "SELECT msg_id FROM pgmq.read_grouped_head($1, 30, $2)";
const OURS: &str = "SELECT msg_id FROM paliadin_read_heads($1, 30, $2)";

/// Leases up to `qty` heads with `sql` in a transaction that is rolled back, so both functions
/// see the same queue.
async fn heads(pool: &PgPool, sql: &'static str, queue: &str, qty: i32) -> Vec<i64> {
    let mut tx = pool.begin().await.unwrap();
    let ids: Vec<i64> = sqlx::query_scalar(sql)
        .bind(queue)
        .bind(qty)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    ids
}

/// The same with the workers' statement (`$1` the lease, `$2` the batch), in leasing order.
async fn worker_heads(pool: &PgPool, host: &HostName, qty: i32) -> Vec<i64> {
    let mut tx = pool.begin().await.unwrap();
    let mut ids: Vec<i64> = sqlx::query_as(TurnQueue::heads_sql(host))
        .bind(30)
        .bind(qty)
        .fetch_all(&mut *tx)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _, _): (i64, i32, serde_json::Value)| id)
        .collect();
    tx.rollback().await.unwrap();
    // An UPDATE … RETURNING returns its rows in no promised order; the lease is the set.
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn our_head_read_leases_what_pgmqs_read_grouped_head_leases() {
    let db = TestDb::new().await;
    let queue = TurnQueue::new(db.pool.clone()).await;
    let host = HostName::parse("heads").unwrap();
    queue.ensure(&host).await.unwrap();
    let name = host.queue_name();
    let mut rng = Lcg(42);
    for scenario in 0..40 {
        sqlx::query("DELETE FROM pgmq.q_turns_heads")
            .execute(&db.pool)
            .await
            .unwrap();
        let groups: Vec<Uuid> = (0..1 + rng.below(12)).map(|_| Uuid::new_v4()).collect();
        let mut conn = db.pool.acquire().await.unwrap();
        for _ in 0..groups.len() as u64 * (1 + rng.below(20)) {
            let user = groups[rng.below(groups.len() as u64) as usize];
            queue
                .send(&mut conn, &host, Uuid::new_v4(), user)
                .await
                .unwrap();
        }
        // Lease some messages: heads (running turns) and later ones (a stale lease).
        let ids: Vec<i64> = sqlx::query_scalar("SELECT msg_id FROM pgmq.q_turns_heads")
            .fetch_all(&db.pool)
            .await
            .unwrap();
        for id in ids {
            if rng.below(4) == 0 {
                sqlx::query(
                    "UPDATE pgmq.q_turns_heads SET vt = clock_timestamp() + interval '1 hour'
                      WHERE msg_id = $1",
                )
                .bind(id)
                .execute(&db.pool)
                .await
                .unwrap();
            }
        }
        for qty in [1, 3, 100] {
            let theirs = heads(&db.pool, PGMQ, &name, qty).await;
            let ours = heads(&db.pool, OURS, &name, qty).await;
            assert_eq!(ours, theirs, "scenario {scenario}, qty {qty}");
            let mut sorted = theirs.clone();
            sorted.sort_unstable();
            let workers = worker_heads(&db.pool, &host, qty).await;
            assert_eq!(
                workers, sorted,
                "scenario {scenario}, qty {qty} (workers' statement)"
            );
        }
    }
}

#[tokio::test]
async fn a_new_queue_gets_the_group_head_index() {
    let db = TestDb::new().await;
    let queue = TurnQueue::new(db.pool.clone()).await;
    let host = HostName::parse("fresh").unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    queue.ensure_in(&mut tx, &host).await.unwrap();
    tx.commit().await.unwrap();
    let index: Option<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'pgmq' AND indexname = 'q_turns_fresh_group_head'",
    )
    .fetch_optional(&db.pool)
    .await
    .unwrap();
    let index = index.expect("no group-head index on the new queue");
    assert!(
        index.contains("x-pgmq-group") && index.contains("msg_id"),
        "{index}"
    );
}

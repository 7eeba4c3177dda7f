//! Benchmark (ignored by default) of reading queue heads with a backlog: pgmq's
//! `read_grouped_head` (groups the whole queue on every call) against `paliadin_read_heads` (walks
//! the group-head index, one probe per group), on the same queue of 1,000, 10,000 and 100,000
//! queued messages from 1,000 users, half of whose heads are leased (running turns). Each call
//! leases 8 heads in a transaction that is rolled back, so every call sees the same queue. It
//! prints p50/p95/max per call and asserts nothing about time. Run it with:
//!
//! ```text
//! PALIADIN_TEST_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo test --release -p paliadin-e2e --test bench -- --ignored --nocapture queue::
//! ```

use paliadin_e2e::db::TestDb;
use paliadin_shared::HostName;
use paliadin_shared::queue::TurnQueue;
use sqlx::PgPool;
use std::time::Instant;

const PGMQ: &str = "SELECT msg_id FROM pgmq.read_grouped_head('turns_bench', 30, 8)";
const OURS: &str = "SELECT msg_id FROM paliadin_read_heads('turns_bench', 30, 8)";
const CALLS: usize = 50;

/// `n` messages over 1,000 groups, then every other group's head leased for an hour.
const FILL: &str = "
INSERT INTO pgmq.q_turns_bench (vt, message, headers)
SELECT clock_timestamp(), jsonb_build_object('turn_id', gen_random_uuid()),
       jsonb_build_object('x-pgmq-group', 'user-' || (i % $2))
  FROM generate_series(1, $1) i";
const LEASE: &str = "
UPDATE pgmq.q_turns_bench SET vt = clock_timestamp() + interval '1 hour'
 WHERE msg_id IN (SELECT min(msg_id) FROM pgmq.q_turns_bench
                   GROUP BY headers->>'x-pgmq-group'
                  HAVING (hashtext(headers->>'x-pgmq-group') & 1) = 0)";

async fn time(pool: &PgPool, sql: &'static str) -> Vec<f64> {
    let mut ms = Vec::with_capacity(CALLS);
    for _ in 0..CALLS + 5 {
        let mut tx = pool.begin().await.unwrap();
        let started = Instant::now();
        let got: Vec<i64> = sqlx::query_scalar(sql).fetch_all(&mut *tx).await.unwrap();
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(got.len(), 8);
        tx.rollback().await.unwrap();
    }
    ms.drain(..5);
    ms.sort_by(f64::total_cmp);
    ms
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test]
#[ignore = "benchmark: prints figures (see the module docs)"]
async fn head_reads_with_a_backlog() {
    let db = TestDb::new().await;
    TurnQueue::new(db.pool.clone())
        .await
        .ensure(&HostName::parse("bench").unwrap())
        .await
        .unwrap();
    println!("| users | queued | function | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|---|");
    for users in [100i64, 1_000] {
        sqlx::query("DELETE FROM pgmq.q_turns_bench")
            .execute(&db.pool)
            .await
            .unwrap();
        let mut queued = 0i64;
        for target in [1_000i64, 10_000, 100_000] {
            sqlx::query(FILL)
                .bind(target - queued)
                .bind(users)
                .execute(&db.pool)
                .await
                .unwrap();
            queued = target;
            sqlx::query("UPDATE pgmq.q_turns_bench SET vt = clock_timestamp()")
                .execute(&db.pool)
                .await
                .unwrap();
            sqlx::query(LEASE).execute(&db.pool).await.unwrap();
            sqlx::query("VACUUM ANALYZE pgmq.q_turns_bench")
                .execute(&db.pool)
                .await
                .unwrap();
            for (name, sql) in [
                ("pgmq read_grouped_head", PGMQ),
                ("paliadin_read_heads", OURS),
            ] {
                let ms = time(&db.pool, sql).await;
                println!(
                    "| {users} | {queued} | {name} | {:.2} | {:.2} | {:.2} |",
                    pct(&ms, 0.5),
                    pct(&ms, 0.95),
                    ms[ms.len() - 1]
                );
            }
        }
    }
}

//! Benchmark (ignored by default) of the admin stats with a million turns: seeds 1,000,000 turns
//! over 30 days (about 1,400 an hour, 70 active), 1,000 users, a queue, workers and hosts into a
//! fresh test database, then times `GET /api/admin/paliadin/stats` over HTTP for several windows
//! (and the database part alone) and prints p50/p95/p99/max. It prints figures and asserts
//! nothing about time. Run it with:
//!
//! ```text
//! PALIADIN_TEST_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo test --release -p paliadin-e2e --test bench -- --ignored --nocapture admin::
//! ```

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::{TestDb, admin_url};
use paliadin_e2e::http::user;
use paliadin_e2e::system::start_api;
use paliadin_shared::db::stats;
use paliadin_shared::db::users::Role;
use sqlx::{Connection, Executor};
use std::time::{Duration, Instant};

const TURNS: i64 = 1_000_000;

const SEED: &str = "
INSERT INTO users (id, email, role)
SELECT gen_random_uuid(), 'bench' || g || '@example.test', 'owner' FROM generate_series(1, 1000) g;
CREATE TEMP TABLE bench_users AS SELECT row_number() OVER (ORDER BY email) AS n, id FROM users;
INSERT INTO agent_sessions (user_id, host, session_name)
SELECT id, (ARRAY['local', 'gpu1', 'gpu2'])[1 + n % 3], 'paliadin-' || n FROM bench_users;
INSERT INTO hosts (name, address) VALUES ('local', 'local'), ('gpu1', 'ops@gpu1'), ('gpu2', 'ops@gpu2');
INSERT INTO workers (id, hosts, version)
SELECT 'bench-worker-' || g, '{local,gpu1,gpu2}', '0.1.0' FROM generate_series(1, 8) g;
SELECT pgmq.create('turns_local');
SELECT pgmq.send('turns_local', jsonb_build_object('turn_id', gen_random_uuid())) FROM generate_series(1, 70);
SELECT pgmq.read('turns_local', 300, 20);
-- Newest first in g: g <= 50 still queued, g <= 70 running; older ones finished, 5 % failed,
-- 3 % cancelled. Inserted oldest first, as real traffic is.
INSERT INTO turns (id, user_id, session_id, message, host, state, attempt, last_seq, worker_id,
                   queued_at, claimed_at, delivered_at, finished_at, reply_text, used_tools,
                   rows_seen, chip_count, classifier_tag, error_code, error_message)
SELECT gen_random_uuid(), u.id, gen_random_uuid(), 'bench message ' || g, 'local', s.state,
       CASE WHEN s.state = 'queued' THEN 0 ELSE 1 END, 5, 'bench-worker-' || (1 + g % 8),
       q.queued_at,
       CASE WHEN s.state <> 'queued' THEN q.queued_at + (g % 500) * interval '1 ms' END,
       CASE WHEN s.state <> 'queued' THEN q.queued_at + (g % 500 + 50 + g % 100) * interval '1 ms' END,
       CASE WHEN s.state NOT IN ('queued', 'running')
            THEN q.queued_at + (g % 500 + 2050 + g % 7000) * interval '1 ms' END,
       CASE WHEN s.state = 'succeeded' THEN 'bench reply' END,
       CASE WHEN s.state = 'succeeded' THEN (ARRAY['{sql}', '{sql,chart}', '{web}'])[1 + g % 3]::text[] END,
       CASE WHEN s.state = 'succeeded' THEN (g % 100)::int END,
       CASE WHEN s.state = 'succeeded' THEN (g % 5)::int END,
       CASE WHEN s.state = 'succeeded' THEN (ARRAY['data', 'chat', 'report'])[1 + g % 3] END,
       CASE WHEN s.state = 'failed' THEN (ARRAY['timeout', 'upstream_error', 'session_lost'])[1 + g % 3] END,
       CASE WHEN s.state = 'failed' THEN 'bench failure' END
  FROM generate_series(1, $TURNS) g
  JOIN bench_users u ON u.n = 1 + g % 1000
 CROSS JOIN LATERAL (SELECT now() - interval '30 days' * (g / $TURNS.0) - interval '10 seconds' AS queued_at) q
 CROSS JOIN LATERAL (SELECT CASE WHEN g <= 50 THEN 'queued' WHEN g <= 70 THEN 'running'
                                 WHEN g % 20 = 0 THEN 'failed' WHEN g % 33 = 0 THEN 'cancelled'
                                 ELSE 'succeeded' END AS state) s
 ORDER BY g DESC;
";

/// `(p50, p95, p99, max)` in milliseconds.
fn summary(mut ms: Vec<f64>) -> (f64, f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 * p).ceil() as usize).clamp(1, ms.len()) - 1];
    (at(0.5), at(0.95), at(0.99), ms[ms.len() - 1])
}

fn row(what: &str, n: usize, ms: Vec<f64>) {
    let (p50, p95, p99, max) = summary(ms);
    println!("| {what} | {n} | {p50:.1} | {p95:.1} | {p99:.1} | {max:.1} |");
}

async fn time_http(client: &reqwest::Client, url: &str, token: &str, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = client.get(url).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: seeds a million turns; run with --ignored --nocapture"]
async fn admin_stats_with_a_million_turns() {
    let db = TestDb::new().await;
    let t = Instant::now();
    sqlx::raw_sql(sqlx::AssertSqlSafe(
        SEED.replace("$TURNS", &TURNS.to_string()),
    ))
    .execute(&db.pool)
    .await
    .expect("seed");
    sqlx::raw_sql("VACUUM ANALYZE turns")
        .execute(&db.pool)
        .await
        .expect("vacuum");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM turns")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, TURNS);
    println!("seeded {count} turns in {:.1} s", t.elapsed().as_secs_f64());

    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "admin@bench", Role::Admin).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let stats_url = |w: &str| format!("{}/api/admin/paliadin/stats?window={w}", api.base);
    time_http(&client, &stats_url("1h"), &token, 20).await; // warm-up
    let body: serde_json::Value = client
        .get(stats_url("1h"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!(
        "1h window: {} finished turns sampled, {} succeeded, queued {}, running {}",
        body["sample"]["turns"],
        body["turns"]["succeeded"],
        body["turns"]["queued"],
        body["turns"]["running"]
    );
    println!("\n| call | n | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|");
    for (w, n) in [("1h", 200), ("24h", 100), ("7d", 100)] {
        let ms = time_http(&client, &stats_url(w), &token, n).await;
        row(
            &format!("`GET /api/admin/paliadin/stats?window={w}` (HTTP)"),
            n,
            ms,
        );
    }
    let mut db_ms = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        stats::collect(&db.pool, "1h", 3600).await.unwrap();
        db_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    row("`stats::collect` (1h, database only)", 200, db_ms);
    let turns_url = format!("{}/api/admin/paliadin/turns?limit=50", api.base);
    row(
        "`GET /api/admin/paliadin/turns?limit=50`",
        100,
        time_http(&client, &turns_url, &token, 100).await,
    );
    let failed_url = format!(
        "{}/api/admin/paliadin/turns?limit=50&state=failed",
        api.base
    );
    row(
        "`GET /api/admin/paliadin/turns?state=failed`",
        100,
        time_http(&client, &failed_url, &token, 100).await,
    );
    let metrics_url = format!("{}/metrics", api.base);
    row(
        "`GET /metrics`",
        100,
        time_http(&client, &metrics_url, &token, 100).await,
    );
    // A million turns take ~600 MB: drop the database now rather than after two hours.
    api.shutdown.cancel();
    db.pool.close().await;
    let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
    let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name);
    admin.execute(sqlx::AssertSqlSafe(drop)).await.unwrap();
}

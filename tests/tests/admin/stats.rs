//! Pins `GET /api/admin/paliadin/stats` against a seeded, known history (turns inserted with
//! chosen timestamps): state counts, error breakdown, percentile_cont latencies per stage, usage,
//! the per-minute series (outcomes and waiting turns) and pgmq queue figures; the window
//! parameter is validated. (`admin/fleet.rs` pins the workers and hosts figures.)

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use serde_json::Value;
use sqlx::types::chrono::{DateTime, Utc};
use uuid::Uuid;

/// One seeded turn; times are milliseconds from `t0` (a whole minute of the database clock).
#[derive(Default)]
struct Seed {
    state: &'static str,
    queued: f64,
    claimed: Option<f64>,
    delivered: Option<f64>,
    finished: Option<f64>,
    error: Option<&'static str>,
    tools: Option<Vec<String>>,
    rows: Option<i32>,
    tag: Option<&'static str>,
}

async fn seed(db: &TestDb, t0: DateTime<Utc>, user: Uuid, s: Seed) {
    sqlx::query(
        "INSERT INTO turns (id, user_id, session_id, message, host, state, attempt, worker_id,
                queued_at, claimed_at, delivered_at, finished_at, reply_text, used_tools, rows_seen,
                chip_count, classifier_tag, error_code, error_message)
         VALUES ($1, $2, $1, 'seeded message', 'local', $3,
                 CASE WHEN $5::float8 IS NULL THEN 0 ELSE 1 END, 'w-seed',
                 $12 + $4 * interval '1 ms', $12 + $5 * interval '1 ms',
                 $12 + $6 * interval '1 ms', $12 + $7 * interval '1 ms',
                 CASE WHEN $3 = 'succeeded' THEN 'seeded reply' END, $8, $9,
                 CASE WHEN $3 = 'succeeded' THEN 1 END, $10, $11,
                 CASE WHEN $11::text IS NOT NULL THEN 'seeded failure' END)",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(s.state)
    .bind(s.queued)
    .bind(s.claimed)
    .bind(s.delivered)
    .bind(s.finished)
    .bind(s.tools)
    .bind(s.rows)
    .bind(s.tag)
    .bind(s.error)
    .bind(t0)
    .execute(&db.pool)
    .await
    .expect("seed turn");
}

/// `percentile_cont`: linear interpolation between the closest ranks.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = p * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

fn assert_latency(got: &Value, values: &[f64], what: &str) {
    assert_eq!(got["count"], values.len() as i64, "{what} count: {got}");
    for (key, p) in [("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)] {
        let g = got[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{what} {key}: {got}"));
        let want = percentile(values, p);
        assert!(
            (g - want).abs() < 1e-6,
            "{what} {key}: got {g}, want {want}"
        );
    }
}

/// `at` minus `k` minutes.
fn before(at: DateTime<Utc>, k: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp() - 60 * k, 0).unwrap()
}

fn minute(stats: &Value, at: DateTime<Utc>) -> &Value {
    stats["throughput"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["minute"]
                .as_str()
                .and_then(|s| s.parse::<DateTime<Utc>>().ok())
                == Some(at)
        })
        .unwrap_or_else(|| panic!("no minute {at} in {}", stats["throughput"]))
}

#[tokio::test]
async fn stats_match_a_seeded_history() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, admin) = user(&db, "admin@x", Role::Admin).await;
    let (u1, _) = user(&db, "u1@x", Role::Owner).await;
    let (u2, _) = user(&db, "u2@x", Role::Owner).await;
    let t0: DateTime<Utc> = sqlx::query_scalar("SELECT date_trunc('minute', now())")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let min = |m: f64| m * 60_000.0;
    // Ten successes finishing at t0-10m+20s: wait 100·i ms, delivery 50 ms, answer 1000·i ms.
    let (mut waits, mut deliveries, mut answers, mut e2e) = (vec![], vec![], vec![], vec![]);
    let done = min(-10.0) + 20_000.0;
    for i in 1..=10 {
        let (w, a) = (100.0 * i as f64, 1000.0 * i as f64);
        let total = w + 50.0 + a;
        let tools = if i % 2 == 0 {
            vec!["sql", "chart"]
        } else {
            vec!["sql"]
        };
        seed(
            &db,
            t0,
            if i <= 5 { u1.id } else { u2.id },
            Seed {
                state: "succeeded",
                queued: done - total,
                claimed: Some(done - total + w),
                delivered: Some(done - a),
                finished: Some(done),
                tools: Some(tools.into_iter().map(str::to_owned).collect()),
                rows: Some(i),
                tag: Some(if i <= 6 { "data" } else { "chat" }),
                ..Seed::default()
            },
        )
        .await;
        waits.push(w);
        deliveries.push(50.0);
        answers.push(a);
        e2e.push(total);
    }
    // Three failures at t0-5m+20s (waits 150/250/350 ms, delivery 70 ms): 2 timeout, 1 session_lost.
    let failed_at = min(-5.0) + 20_000.0;
    for (w, code) in [
        (150.0, "timeout"),
        (250.0, "timeout"),
        (350.0, "session_lost"),
    ] {
        seed(
            &db,
            t0,
            u1.id,
            Seed {
                state: "failed",
                queued: failed_at - 3000.0,
                claimed: Some(failed_at - 3000.0 + w),
                delivered: Some(failed_at - 3000.0 + w + 70.0),
                finished: Some(failed_at),
                error: Some(code),
                ..Seed::default()
            },
        )
        .await;
        waits.push(w);
        deliveries.push(70.0);
    }
    // Cancelled while queued: waited from t0-8m+30s to t0-6m+30s, never claimed.
    seed(
        &db,
        t0,
        u2.id,
        Seed {
            state: "cancelled",
            queued: min(-8.0) + 30_000.0,
            finished: Some(min(-6.0) + 30_000.0),
            ..Seed::default()
        },
    )
    .await;
    // Active now: two waiting (since t0-3m+10s and t0-1m+10s), one running.
    for q in [min(-3.0) + 10_000.0, min(-1.0) + 10_000.0] {
        seed(
            &db,
            t0,
            u1.id,
            Seed {
                state: "queued",
                queued: q,
                ..Seed::default()
            },
        )
        .await;
    }
    seed(
        &db,
        t0,
        u2.id,
        Seed {
            state: "running",
            queued: min(-2.0) + 10_000.0,
            claimed: Some(min(-2.0) + 15_000.0),
            ..Seed::default()
        },
    )
    .await;
    // Five successes three hours ago: outside the 1h window, inside 24h.
    for i in 0..5 {
        let at = min(-180.0) + 1000.0 * i as f64;
        seed(
            &db,
            t0,
            u1.id,
            Seed {
                state: "succeeded",
                queued: at - 500.0,
                claimed: Some(at - 400.0),
                delivered: Some(at - 300.0),
                finished: Some(at),
                ..Seed::default()
            },
        )
        .await;
    }
    // A queue with three messages, one of them leased (invisible).
    sqlx::raw_sql(
        "SELECT pgmq.create('turns_local');
         SELECT pgmq.send('turns_local', '{}'::jsonb) FROM generate_series(1, 3);
         SELECT pgmq.read('turns_local', 60, 1);",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let c = Client::new(&api.base, Some(&admin));
    let (status, s) = c.get("/api/admin/paliadin/stats").await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["window"], "1h");
    assert_eq!(s["window_secs"], 3600);
    let t = &s["turns"];
    assert_eq!(
        [
            &t["queued"],
            &t["running"],
            &t["succeeded"],
            &t["failed"],
            &t["cancelled"]
        ],
        [2, 1, 10, 3, 1],
        "{t}"
    );
    assert_eq!(s["sample"]["turns"], 14);
    assert_eq!(s["sample"]["capped"], false);
    assert_eq!(
        s["errors"],
        serde_json::json!([{"name": "timeout", "count": 2}, {"name": "session_lost", "count": 1}])
    );
    let l = &s["latency"];
    assert_latency(&l["queue_wait"], &waits, "queue wait");
    assert_latency(&l["delivery"], &deliveries, "delivery");
    assert_latency(&l["answer"], &answers, "answer");
    assert_latency(&l["end_to_end"], &e2e, "end to end");
    // Pin the helper once by hand: e2e = 1100·i + 50, p50 of i = 1..10 is i = 5.5.
    assert!((l["end_to_end"]["p50_ms"].as_f64().unwrap() - 6100.0).abs() < 1e-6);
    let u = &s["usage"];
    assert_eq!(
        u["tools"],
        serde_json::json!([{"name": "sql", "count": 10}, {"name": "chart", "count": 5}])
    );
    assert_eq!(
        u["classifier_tags"],
        serde_json::json!([{"name": "data", "count": 6}, {"name": "chat", "count": 4}])
    );
    assert_eq!(
        (&u["rows_seen_total"], &u["chips_total"]),
        (&55.into(), &10.into())
    );
    assert_eq!(u["rows_seen_avg"], 5.5);

    // The last hour, per minute.
    assert_eq!(s["throughput"].as_array().unwrap().len(), 60);
    let m10 = minute(&s, before(t0, 10));
    assert_eq!((&m10["succeeded"], &m10["failed"]), (&10.into(), &0.into()));
    assert!((m10["e2e_p50_ms"].as_f64().unwrap() - percentile(&e2e, 0.5)).abs() < 1e-6);
    assert!((m10["e2e_p95_ms"].as_f64().unwrap() - percentile(&e2e, 0.95)).abs() < 1e-6);
    let m5 = minute(&s, before(t0, 5));
    assert_eq!(m5["failed"], 3);
    assert_eq!(
        m5["failed_by_code"],
        serde_json::json!({"timeout": 2, "session_lost": 1})
    );
    assert_eq!(minute(&s, before(t0, 6))["cancelled"], 1);
    let waiting: Vec<i64> = (1..=10)
        .rev()
        .map(|k| minute(&s, before(t0, k))["waiting"].as_i64().unwrap())
        .collect();
    // Minutes t0-10m … t0-1m: the cancelled turn waits through -8 and -7, the queued ones
    // from -3 and -1 on (the running one was claimed within its minute).
    assert_eq!(
        waiting,
        [0, 0, 1, 1, 0, 0, 0, 1, 1, 2],
        "{}",
        s["throughput"]
    );
    assert_eq!(s["throughput"][59]["waiting"], 2);

    let q = &s["queues"][0];
    assert_eq!(q["queue"], "turns_local");
    assert_eq!(
        (&q["length"], &q["visible_length"], &q["total_sent"]),
        (&3.into(), &2.into(), &3.into())
    );

    // A wider window reaches the older turns.
    let (status, day) = c.get("/api/admin/paliadin/stats?window=24h").await;
    assert_eq!(status, 200, "{day}");
    assert_eq!(day["turns"]["succeeded"], 15);
    assert_eq!(day["window_secs"], 86_400);
    for bad in ["0m", "8d", "1y", "abc", "1.5h", "-1h", "30"] {
        let (status, body) = c
            .get(&format!("/api/admin/paliadin/stats?window={bad}"))
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_window")),
            "{bad}: {body}"
        );
    }
}

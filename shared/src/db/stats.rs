//! SQL for the admin stats: pgmq queue metrics, turns by state, per-minute throughput and
//! backlog over the last hour, latency percentiles and usage over a window, workers and hosts
//! (with each host's live agents).
//!
//! Every query reads a bounded range through an index (`migrations/*_stats_indexes.sql`): the
//! last hour of finished turns (index-only), the turns that waited during the last hour, the
//! active turns, and at most [`SAMPLE_CAP`] turns finished within the window. The queries run
//! concurrently on the pool; all ages are taken against one database clock reading.

mod model;
pub mod recent;
mod series;
pub mod tokens;

pub use model::*;

use chrono::{DateTime, Duration, Utc};
use sqlx::types::Json;
use sqlx::{FromRow, PgPool};

/// Most finished turns the window figures read (the newest of the window).
pub const SAMPLE_CAP: i64 = 2_000;
/// A worker without a heartbeat for this long is `stale` (it beats every 5 s).
pub const STALE_SECS: f64 = 30.0;
/// Minutes in the throughput series.
pub(crate) const MINUTES: i64 = 60;

/// Takes every figure of [`Stats`]; `window_secs` must already be validated (1 min ..= 7 d).
pub async fn collect(pool: &PgPool, window: &str, window_secs: i64) -> Result<Stats, sqlx::Error> {
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()").fetch_one(pool).await?;
    let start = minute_floor(now) - Duration::minutes(MINUTES - 1);
    let (queues, active, waiting, sample, series, workers, hosts, tokens) = tokio::try_join!(
        queues(pool),
        active(pool),
        super::permissions::waiting(pool),
        sample(pool, now, window_secs),
        series::series(pool, start, now),
        workers(pool, now),
        hosts(pool),
        tokens::token_days(pool, window_secs),
    )?;
    let turns = StateCounts {
        queued: active.0,
        running: active.1,
        succeeded: sample.succeeded,
        failed: sample.failed,
        cancelled: sample.cancelled,
    };
    Ok(Stats {
        generated_at: now,
        window: window.to_owned(),
        window_secs,
        queues,
        turns,
        waiting: Waiting {
            turns: waiting.0,
            oldest_wait_secs: waiting.1,
        },
        sample: Sample {
            turns: sample.turns,
            cap: SAMPLE_CAP,
            capped: sample.turns >= SAMPLE_CAP,
            since: sample.since,
        },
        errors: sample.errors.0,
        agents: sample.agents.0,
        latency: Latencies {
            queue_wait: latency(sample.queue_wait_n, sample.queue_wait),
            delivery: latency(sample.delivery_n, sample.delivery),
            answer: latency(sample.answer_n, sample.answer),
            end_to_end: latency(sample.e2e_n, sample.e2e),
        },
        usage: Usage {
            tools: sample.tools.0,
            classifier_tags: sample.tags.0,
            rows_seen_total: sample.rows_seen_total,
            rows_seen_avg: sample.rows_seen_avg,
            chips_total: sample.chips_total,
            chips_avg: sample.chips_avg,
        },
        throughput: series,
        workers,
        hosts,
        tokens,
    })
}

fn minute_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp() - t.timestamp().rem_euclid(60), 0).unwrap_or(t)
}

fn latency(count: i64, p: Option<Vec<f64>>) -> Latency {
    let p = p.unwrap_or_default();
    Latency {
        count,
        p50_ms: p.first().copied(),
        p95_ms: p.get(1).copied(),
        p99_ms: p.get(2).copied(),
    }
}

pub async fn queues(pool: &PgPool) -> Result<Vec<QueueStats>, sqlx::Error> {
    sqlx::query_as(
        "SELECT queue_name AS queue, queue_length AS length, queue_visible_length AS visible_length,
                oldest_msg_age_sec AS oldest_age_secs, newest_msg_age_sec AS newest_age_secs,
                total_messages AS total_sent
           FROM pgmq.metrics_all() ORDER BY queue_name",
    )
    .fetch_all(pool)
    .await
}

/// `(queued, running)` now, through the partial index on active turns.
pub async fn active(pool: &PgPool) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'running')
           FROM turns WHERE state IN ('queued', 'running')",
    )
    .fetch_one(pool)
    .await
}

#[derive(FromRow)]
struct SampleRow {
    turns: i64,
    since: Option<DateTime<Utc>>,
    succeeded: i64,
    failed: i64,
    cancelled: i64,
    queue_wait_n: i64,
    queue_wait: Option<Vec<f64>>,
    delivery_n: i64,
    delivery: Option<Vec<f64>>,
    answer_n: i64,
    answer: Option<Vec<f64>>,
    e2e_n: i64,
    e2e: Option<Vec<f64>>,
    rows_seen_total: i64,
    rows_seen_avg: Option<f64>,
    chips_total: i64,
    chips_avg: Option<f64>,
    errors: Json<Vec<NamedCount>>,
    tools: Json<Vec<NamedCount>>,
    tags: Json<Vec<NamedCount>>,
    agents: Json<Vec<NamedCount>>,
}

/// The window's figures over its newest [`SAMPLE_CAP`] finished turns, in one statement.
async fn sample(
    pool: &PgPool,
    now: DateTime<Utc>,
    window_secs: i64,
) -> Result<SampleRow, sqlx::Error> {
    sqlx::query_as(
        "WITH w AS MATERIALIZED (
             SELECT state, error_code, queued_at, claimed_at, delivered_at, finished_at,
                    used_tools, rows_seen, chip_count, classifier_tag, agent
               FROM turns
              WHERE finished_at IS NOT NULL AND finished_at > $1 - make_interval(secs => $2)
              ORDER BY finished_at DESC
              LIMIT $3
         ), ms AS (
             SELECT w.*,
                    date_part('epoch', claimed_at - queued_at) * 1000 AS wait_ms,
                    date_part('epoch', delivered_at - claimed_at) * 1000 AS delivery_ms,
                    date_part('epoch', finished_at - delivered_at) * 1000 AS answer_ms,
                    date_part('epoch', finished_at - queued_at) * 1000 AS e2e_ms
               FROM w
         )
         SELECT count(*) AS turns, min(finished_at) AS since,
                count(*) FILTER (WHERE state = 'succeeded') AS succeeded,
                count(*) FILTER (WHERE state = 'failed') AS failed,
                count(*) FILTER (WHERE state = 'cancelled') AS cancelled,
                count(wait_ms) AS queue_wait_n,
                percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY wait_ms)
                    FILTER (WHERE wait_ms IS NOT NULL) AS queue_wait,
                count(delivery_ms) AS delivery_n,
                percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY delivery_ms)
                    FILTER (WHERE delivery_ms IS NOT NULL) AS delivery,
                count(answer_ms) FILTER (WHERE state = 'succeeded') AS answer_n,
                percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY answer_ms)
                    FILTER (WHERE state = 'succeeded' AND answer_ms IS NOT NULL) AS answer,
                count(*) FILTER (WHERE state = 'succeeded') AS e2e_n,
                percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY e2e_ms)
                    FILTER (WHERE state = 'succeeded') AS e2e,
                COALESCE(sum(rows_seen), 0)::int8 AS rows_seen_total,
                avg(rows_seen)::float8 AS rows_seen_avg,
                COALESCE(sum(chip_count), 0)::int8 AS chips_total,
                avg(chip_count)::float8 AS chips_avg,
                (SELECT COALESCE(jsonb_agg(jsonb_build_object('name', n, 'count', c)
                                           ORDER BY c DESC, n), '[]')
                   FROM (SELECT error_code AS n, count(*) AS c FROM w WHERE state = 'failed'
                          GROUP BY 1) e) AS errors,
                (SELECT COALESCE(jsonb_agg(jsonb_build_object('name', n, 'count', c)
                                           ORDER BY c DESC, n), '[]')
                   FROM (SELECT t AS n, count(*) AS c
                           FROM (SELECT unnest(used_tools) AS t FROM w) x
                          GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20) u) AS tools,
                (SELECT COALESCE(jsonb_agg(jsonb_build_object('name', n, 'count', c)
                                           ORDER BY c DESC, n), '[]')
                   FROM (SELECT classifier_tag AS n, count(*) AS c FROM w
                          WHERE classifier_tag IS NOT NULL
                          GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20) g) AS tags,
                (SELECT COALESCE(jsonb_agg(jsonb_build_object('name', n, 'count', c)
                                           ORDER BY c DESC, n), '[]')
                   FROM (SELECT agent AS n, count(*) AS c FROM w
                          WHERE agent IS NOT NULL GROUP BY 1) a) AS agents
           FROM ms",
    )
    .bind(now)
    .bind(window_secs as f64)
    .bind(SAMPLE_CAP)
    .fetch_one(pool)
    .await
}

#[derive(FromRow)]
struct WorkerRow {
    id: String,
    hosts: Vec<String>,
    version: String,
    started_at: DateTime<Utc>,
    heartbeat_at: DateTime<Utc>,
    heartbeat_age_secs: f64,
    in_flight: i32,
    stopped_at: Option<DateTime<Utc>>,
}

async fn workers(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<WorkerStats>, sqlx::Error> {
    let rows: Vec<WorkerRow> = sqlx::query_as(
        "SELECT id, hosts, version, started_at, heartbeat_at, in_flight, stopped_at,
                GREATEST(0, date_part('epoch', $1 - heartbeat_at)) AS heartbeat_age_secs
           FROM workers
          WHERE stopped_at IS NULL OR stopped_at > $1 - interval '1 day'
          ORDER BY stopped_at IS NOT NULL, id",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let status = if r.stopped_at.is_some() {
                WorkerStatus::Stopped
            } else if r.heartbeat_age_secs > STALE_SECS {
                WorkerStatus::Stale
            } else {
                WorkerStatus::Alive
            };
            WorkerStats {
                id: r.id,
                hosts: r.hosts,
                version: r.version,
                started_at: r.started_at,
                heartbeat_at: r.heartbeat_at,
                heartbeat_age_secs: r.heartbeat_age_secs,
                in_flight: r.in_flight,
                stopped_at: r.stopped_at,
                status: status.as_str().to_owned(),
                alive: status == WorkerStatus::Alive,
            }
        })
        .collect())
}

/// A worker as the stats see it: heartbeating, silent for over [`STALE_SECS`], or stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WorkerStatus {
    Alive,
    Stale,
    Stopped,
}

impl WorkerStatus {
    fn as_str(self) -> &'static str {
        match self {
            WorkerStatus::Alive => "alive",
            WorkerStatus::Stale => "stale",
            WorkerStatus::Stopped => "stopped",
        }
    }
}

async fn hosts(pool: &PgPool) -> Result<Vec<HostStats>, sqlx::Error> {
    sqlx::query_as(
        "SELECT h.name, h.address, h.reachable, h.last_error, h.last_seen_at,
                (SELECT count(*) FROM agent_sessions s WHERE s.host = h.name) AS sessions,
                h.agents_live, h.agents_max, h.agents_counted_at, h.agent_starts,
                h.agent_resumes, h.agent_stops_idle, h.agent_stops_capacity,
                h.agent_stops_crash, h.turns_deferred
           FROM hosts h ORDER BY h.name",
    )
    .fetch_all(pool)
    .await
}

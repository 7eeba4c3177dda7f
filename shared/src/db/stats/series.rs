//! The last hour of the admin stats, per minute: outcomes and end-to-end percentiles of the
//! turns that finished in each minute, and how many turns were waiting at each minute's end.

use super::{MINUTES, Minute};
use crate::domain::TurnState;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use std::collections::BTreeMap;

/// `(minute, state, error_code, turns, [p50, p95] of end-to-end ms)`.
type OutcomeRow = (i32, TurnState, Option<String>, i64, Option<Vec<f64>>);

/// The last hour per minute: outcomes (index-only on `turns_finished_stats`), end-to-end
/// percentiles of succeeded turns, and the number of turns waiting at each minute's end.
pub(super) async fn series(
    pool: &PgPool,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Minute>, sqlx::Error> {
    let mut minutes: Vec<Minute> = (0..MINUTES)
        .map(|i| Minute {
            minute: start + Duration::minutes(i),
            succeeded: 0,
            failed: 0,
            failed_by_code: BTreeMap::new(),
            cancelled: 0,
            e2e_p50_ms: None,
            e2e_p95_ms: None,
            waiting: 0,
        })
        .collect();
    let bucket = |b: i32| usize::try_from(b).ok().filter(|b| *b < MINUTES as usize);
    let outcomes: Vec<OutcomeRow> = sqlx::query_as(
        "SELECT floor(date_part('epoch', finished_at - $1) / 60)::int4, state, error_code, count(*),
                percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (
                    ORDER BY date_part('epoch', finished_at - queued_at) * 1000)
           FROM turns WHERE finished_at IS NOT NULL AND finished_at >= $1
          GROUP BY 1, 2, 3",
    )
    .bind(start)
    .fetch_all(pool)
    .await?;
    for (b, state, code, n, p) in outcomes {
        let Some(m) = bucket(b).map(|b| &mut minutes[b]) else {
            continue;
        };
        match state {
            TurnState::Succeeded => {
                m.succeeded += n;
                let p = p.unwrap_or_default();
                m.e2e_p50_ms = p.first().copied();
                m.e2e_p95_ms = p.get(1).copied();
            }
            TurnState::Failed => {
                m.failed += n;
                *m.failed_by_code
                    .entry(code.unwrap_or_default())
                    .or_default() += n;
            }
            TurnState::Cancelled => m.cancelled += n,
            // Only finished turns are selected.
            TurnState::Queued | TurnState::Running => {}
        }
    }
    // Arrivals (minute queued; -1 = before the hour) and departures (minute the wait ended;
    // NULL = still waiting) of every turn that waited at some point of the hour: its wait
    // ended within the hour or later (`turns_wait_end`, index-only).
    let waits: Vec<(i32, Option<i32>, i64)> = sqlx::query_as(
        "SELECT GREATEST(-1, floor(date_part('epoch', queued_at - $1) / 60))::int4,
                CASE WHEN COALESCE(claimed_at, finished_at, 'infinity'::timestamptz) <= $2
                     THEN floor(date_part('epoch',
                          COALESCE(claimed_at, finished_at, 'infinity'::timestamptz) - $1) / 60)::int4
                END,
                count(*)
           FROM turns
          WHERE COALESCE(claimed_at, finished_at, 'infinity'::timestamptz) >= $1
            AND queued_at <= $2
          GROUP BY 1, 2",
    )
    .bind(start)
    .bind(now)
    .fetch_all(pool)
    .await?;
    let mut delta = vec![0i64; MINUTES as usize];
    let mut before = 0i64;
    for (arrived, left, n) in waits {
        match usize::try_from(arrived) {
            Ok(a) => delta[a.min(MINUTES as usize - 1)] += n,
            Err(_) => before += n,
        }
        if let Some(l) = left {
            delta[usize::try_from(l).unwrap_or(0).min(MINUTES as usize - 1)] -= n;
        }
    }
    let mut depth = before;
    for (m, d) in minutes.iter_mut().zip(delta) {
        depth += d;
        m.waiting = depth.max(0);
    }
    Ok(minutes)
}

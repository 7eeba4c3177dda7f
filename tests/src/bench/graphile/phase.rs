//! One graphile-worker phase: open-loop `add_job` calls at a fixed rate, round-robin over one
//! named queue per user, bounded like ours; then every job's enqueue → start (the bench's clock
//! just before the `add_job` statement → the runner's clock when the task is called), printed
//! beside our own figures for the same rate.

use super::{Event, Graphile};
use crate::bench::load::Figures;
use crate::bench::stats::{Samples, Table};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

/// How long the phase waits for the next report before it gives up on the remaining jobs.
const STALL: Duration = Duration::from_secs(30);

/// What the runners did with one phase's jobs.
pub struct Outcome {
    /// Enqueue → start of every started job, in ms.
    pub to_start: Samples,
    pub enqueued: usize,
    /// `add_job` calls that failed.
    pub failed: usize,
    pub ended: usize,
    /// First enqueue → last job ended (or the stall).
    pub wall: Duration,
    /// Every user's jobs started in the order they were enqueued.
    pub order_kept: bool,
}

impl Graphile {
    /// `rate` jobs a second for `secs` seconds or `max` jobs, each holding its slot `hold_ms`.
    pub async fn phase(
        &mut self,
        users: usize,
        rate: f64,
        (secs, max): (f64, usize),
        hold_ms: f64,
    ) -> Outcome {
        let (base, start, mut tasks) = (self.next, Instant::now(), Vec::new());
        for i in 0..max {
            let at = Duration::from_secs_f64(i as f64 / rate);
            if at.as_secs_f64() >= secs {
                break;
            }
            tokio::time::sleep_until((start + at).into()).await;
            let (n, user, pool) = (base + i as u64, i % users, self.db.pool.clone());
            let payload = serde_json::json!({ "n": n, "hold_ms": hold_ms }).to_string();
            tasks.push(tokio::spawn(async move {
                let mut conn = pool.acquire().await.ok()?;
                let t = SystemTime::now();
                sqlx::query("SELECT graphile_worker.add_job('hold', $1::json, queue_name => $2)")
                    .bind(payload)
                    .bind(format!("u{user}"))
                    .execute(&mut *conn)
                    .await
                    .ok()?;
                Some((n, user, t))
            }));
        }
        self.next = base + tasks.len() as u64;
        let calls = tasks.len();
        let jobs: Vec<(u64, usize, SystemTime)> = futures::future::join_all(tasks)
            .await
            .into_iter()
            .filter_map(|r| r.ok().flatten())
            .collect();
        let (starts, ended) = self.collect(&jobs).await;
        let mut out = Outcome {
            to_start: Samples::default(),
            enqueued: jobs.len(),
            failed: calls - jobs.len(),
            ended,
            wall: start.elapsed(),
            order_kept: true,
        };
        let mut last: HashMap<usize, SystemTime> = HashMap::new();
        for (n, user, enqueued) in jobs {
            let Some(&started) = starts.get(&n) else {
                continue;
            };
            out.to_start
                .push(crate::bench::load::between(enqueued, started));
            if last
                .insert(user, started)
                .is_some_and(|prev| prev > started)
            {
                out.order_kept = false;
            }
        }
        out
    }

    /// Start times of `jobs` and how many ended, waiting until all ended or nothing is
    /// reported for [`STALL`].
    async fn collect(
        &mut self,
        jobs: &[(u64, usize, SystemTime)],
    ) -> (HashMap<u64, SystemTime>, usize) {
        let ids: HashSet<u64> = jobs.iter().map(|j| j.0).collect();
        let ours = |n: u64| ids.contains(&n);
        let (mut starts, mut ended) = (HashMap::new(), 0);
        while ended < jobs.len() {
            match tokio::time::timeout(STALL, self.events.recv()).await {
                Ok(Some(Event::Start(n, at))) if ours(n) => {
                    starts.insert(n, at);
                }
                Ok(Some(Event::End(n))) if ours(n) => ended += 1,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        (starts, ended)
    }
}

/// Prints graphile-worker's enqueue → start beside our figures for the same rate.
pub fn report(table: &Table, g: &Graphile, rate: f64, ours: &Figures, hold_ms: f64, o: &Outcome) {
    table.header(&format!(
        "graphile-worker beside ours, {rate} turns/s offered"
    ));
    table.row(
        "ours: enqueue → start (POST sent → `claimed_at`)",
        &ours.to_claim,
    );
    table.row(
        "ours: queue wait (`claimed_at − queued_at`)",
        &ours.queue_wait,
    );
    table.row(
        "ours: dispatch (POST sent → agent's `.ack`)",
        &ours.dispatch,
    );
    table.row(
        "graphile-worker: enqueue → start (`add_job` sent → task called)",
        &o.to_start,
    );
    println!(
        "\ngraphile-worker {} (node {}): {} runners × {}, {} jobs enqueued ({} failed), {} ended \
         in {:.1} s = {:.1} jobs/s; each held its slot {hold_ms:.1} ms (the mean `claimed_at → \
         finished_at` of our turns at this rate; theirs p50 {:.1}, p99 {:.1}); per-user order \
         kept: {}",
        super::install::version(),
        g.node,
        g.runners,
        g.concurrency,
        o.enqueued,
        o.failed,
        o.ended,
        o.wall.as_secs_f64(),
        o.ended as f64 / o.wall.as_secs_f64(),
        ours.hold.pct(50.0),
        ours.hold.pct(99.0),
        if o.order_kept { "yes" } else { "NO" }
    );
    println!(
        "enqueue → start p50 / p99: ours {:.2} / {:.2} ms, graphile-worker {:.2} / {:.2} ms",
        ours.to_claim.pct(50.0),
        ours.to_claim.pct(99.0),
        o.to_start.pct(50.0),
        o.to_start.pct(99.0)
    );
}

//! The worker runtime: register in `workers`, claim group heads from each served host's queue
//! (one turn per conversation at a time, conversations in parallel), run each turn in its own
//! task, and stop cleanly.
//!
//! Wake-ups: LISTEN `paliadin_work` (new turns), `paliadin_cancel` (cancel a running turn) and
//! `paliadin_permission` (a decision for a running turn's permission request),
//! with a poll timer as fallback — a lost notification costs at most one poll interval.

mod agents;
mod dead_letter;
mod failover;
mod sink;
mod turn;
mod upload_purge;
mod uploads;
mod wake;

pub use turn::public_message;

use crate::config::RuntimeConfig;
use crate::driver::{DriveError, Driver, TurnControl};
use crate::metrics::WorkerMetrics;
use paliadin_shared::attempt::{Claimer, Lease};
use paliadin_shared::db::terminal::TERMINAL_CHANNEL;
use paliadin_shared::db::{CANCEL_CHANNEL, PERMISSION_CHANNEL, fleet};
use paliadin_shared::queue::TurnQueue;
use paliadin_shared::{HostName, SessionPrefix};
use sqlx::PgPool;
use sqlx::postgres::PgNotification;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;
use wake::{Slot, listen, recv};

/// Everything a turn task needs.
pub struct Ctx {
    pub pool: PgPool,
    pub queue: Arc<TurnQueue>,
    /// Turns leased messages into [`paliadin_shared::attempt::Attempt`]s.
    pub claimer: Claimer,
    /// The driver of each served host (local tmux, or SSH to a host agent).
    pub drivers: HashMap<HostName, Arc<dyn Driver>>,
    pub config: RuntimeConfig,
    pub worker_id: String,
    pub prefix: SessionPrefix,
    /// This worker's Prometheus metrics.
    pub metrics: Arc<WorkerMetrics>,
}

/// A host this worker serves and how it is reached (for the `hosts` table).
#[derive(Debug, Clone)]
pub struct ServedHost {
    pub name: HostName,
    pub address: String,
}

impl Ctx {
    /// The driver for a served host.
    pub fn driver(&self, host: &HostName) -> Result<&Arc<dyn Driver>, DriveError> {
        self.drivers
            .get(host)
            .ok_or_else(|| DriveError::Upstream(format!("this worker does not serve host {host}")))
    }
}

pub struct Worker {
    ctx: Arc<Ctx>,
    hosts: Vec<ServedHost>,
    running: Arc<Mutex<HashMap<Uuid, TurnControl>>>,
    /// The reachability last written to `hosts`, so a change is written at the next poll tick.
    reported: Mutex<HashMap<HostName, bool>>,
}

impl Worker {
    /// A worker whose hosts all use one driver.
    pub async fn new(
        pool: PgPool,
        driver: Arc<dyn Driver>,
        config: RuntimeConfig,
        hosts: Vec<ServedHost>,
    ) -> anyhow::Result<Self> {
        let hosts = hosts.into_iter().map(|h| (h, driver.clone())).collect();
        Worker::with_drivers(pool, config, hosts).await
    }

    /// A worker with a driver per host (e.g. local tmux for one, SSH for others).
    pub async fn with_drivers(
        pool: PgPool,
        config: RuntimeConfig,
        hosts: Vec<(ServedHost, Arc<dyn Driver>)>,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(!hosts.is_empty(), "a worker must serve at least one host");
        let drivers: HashMap<HostName, Arc<dyn Driver>> = hosts
            .iter()
            .map(|(h, d)| (h.name.clone(), d.clone()))
            .collect();
        anyhow::ensure!(drivers.len() == hosts.len(), "a host is listed twice");
        let hosts: Vec<ServedHost> = hosts.into_iter().map(|(h, _)| h).collect();
        anyhow::ensure!(config.concurrency > 0, "concurrency must be at least 1");
        let prefix = SessionPrefix::parse(&config.session_prefix)?;
        let queue = Arc::new(TurnQueue::new(pool.clone()).await);
        let worker_id = config.resolved_worker_id();
        let claimer = Claimer {
            pool: pool.clone(),
            queue: queue.clone(),
            worker_id: worker_id.clone(),
            lease: Lease {
                secs: config.lease_secs,
                every: config.heartbeat(),
            },
            max_attempts: config.max_attempts,
        };
        let metrics = Arc::new(WorkerMetrics::new());
        for d in drivers.values() {
            metrics.export(d.metrics());
        }
        metrics.export(vec![Box::new(crate::usage::metrics::TOKENS.clone())]);
        let ctx = Ctx {
            pool,
            queue,
            claimer,
            drivers,
            config,
            worker_id,
            prefix,
            metrics,
        };
        Ok(Worker {
            ctx: Arc::new(ctx),
            hosts,
            running: Arc::default(),
            reported: Mutex::default(),
        })
    }

    pub fn id(&self) -> &str {
        &self.ctx.worker_id
    }

    /// This worker's metrics (serve them with [`crate::metrics::serve`]).
    pub fn metrics(&self) -> Arc<WorkerMetrics> {
        self.ctx.metrics.clone()
    }

    /// Runs until `shutdown`; then stops claiming, lets in-flight turns finish within the grace
    /// period, and abandons (releases) the rest so another worker takes them over.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let ctx = &self.ctx;
        let names: Vec<String> = self.hosts.iter().map(|h| h.name.to_string()).collect();
        fleet::register_worker(&ctx.pool, &ctx.worker_id, &names, env!("CARGO_PKG_VERSION"))
            .await?;
        for h in &self.hosts {
            ctx.queue.ensure(&h.name).await?;
        }
        self.report_hosts(true).await;
        tracing::info!(worker = %ctx.worker_id, hosts = ?names, "worker started");
        let slots = Arc::new(Semaphore::new(ctx.config.concurrency));
        let tracker = TaskTracker::new();
        let freed = Arc::new(Notify::new());
        let mut listener = listen(&ctx.pool).await;
        let mut poll = tokio::time::interval(ctx.config.poll());
        let mut beat = tokio::time::interval(Duration::from_secs(5));
        let mut prune = tokio::time::interval(Duration::from_secs(3600));
        // Idle agents are looked for every minute (every half the limit when it is shorter).
        let idle = ctx.config.agent_idle();
        let every = idle.map_or(Duration::from_secs(60), |i| {
            (i / 2).clamp(Duration::from_secs(1), Duration::from_secs(60))
        });
        let mut sweep = tokio::time::interval(every);
        let mut agents = agents::Recorder::new(&ctx.metrics, &self.hosts);
        let mut lister = agents::Lister::default();
        // Live terminal views of the served hosts (`crate::terminal`), until shutdown; woken
        // by `paliadin_terminal` notifications on this loop's listener.
        let (views_tx, views_rx) = tokio::sync::mpsc::channel(crate::terminal::WAKE_QUEUE);
        let views = tokio::spawn(crate::terminal::serve(
            ctx.clone(),
            views_rx,
            shutdown.child_token(),
        ));
        while !shutdown.is_cancelled() {
            let claimed = self.claim(&slots, &tracker, &freed).await;
            if claimed > 0 && slots.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = freed.notified() => {}
                _ = poll.tick() => {
                    self.report_hosts(false).await;
                    crate::transcript_store::removals::run(ctx, self.hosts.iter().map(|h| &h.name)).await;
                    upload_purge::run(ctx, self.hosts.iter().map(|h| &h.name)).await;
                    if listener.is_none() {
                        listener = listen(&ctx.pool).await;
                        if listener.is_some() {
                            ctx.metrics.listener_reconnects.inc();
                        }
                    }
                }
                n = recv(&mut listener) => match n {
                    Some(n) if n.channel() == TERMINAL_CHANNEL => {
                        crate::terminal::wake(&views_tx, n.payload());
                    }
                    Some(n) => self.on_notification(&n),
                    None => listener = None,
                },
                _ = prune.tick() => {
                    self.prune_archives().await;
                    self.prune_turns().await;
                }
                // Without an idle limit the sweep still counts the live agents (for the metrics).
                _ = sweep.tick() => {
                    for driver in ctx.drivers.values() {
                        driver.stop_idle(idle.unwrap_or(Duration::MAX)).await;
                    }
                    agents.record(&ctx.pool, &ctx.metrics, true).await;
                    lister.start(ctx);
                }
                _ = beat.tick() => {
                    let in_flight = (ctx.config.concurrency - slots.available_permits()) as i32;
                    if let Err(e) = fleet::heartbeat(&ctx.pool, &ctx.worker_id, in_flight).await {
                        tracing::warn!(error = %e, "worker heartbeat failed");
                        ctx.metrics.heartbeat_failures.inc();
                    }
                    self.report_hosts(true).await;
                    agents.record(&ctx.pool, &ctx.metrics, false).await;
                }
            }
        }
        self.drain(tracker).await;
        let _ = views.await;
        for driver in ctx.drivers.values() {
            driver.close().await;
        }
        agents.record(&ctx.pool, &ctx.metrics, false).await;
        fleet::stop_worker(&ctx.pool, &ctx.worker_id).await?;
        tracing::info!(worker = %ctx.worker_id, "worker stopped");
        Ok(())
    }

    /// Retention: deletes archived messages past `archive_retention_hours` on the served hosts.
    async fn prune_archives(&self) {
        let hours = self.ctx.config.archive_retention_hours;
        if hours == 0 {
            return;
        }
        for h in &self.hosts {
            match self
                .ctx
                .queue
                .prune_archive(&h.name, (hours * 3600) as i64)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(host = %h.name, pruned = n, "archived messages pruned"),
                Err(e) => tracing::warn!(host = %h.name, error = %e, "cannot prune the archive"),
            }
        }
    }

    /// Retention: deletes finished turns past `turn_retention_days` (one process at a time).
    async fn prune_turns(&self) {
        let days = self.ctx.config.turn_retention_days;
        if days == 0 {
            return;
        }
        let pool = &self.ctx.pool;
        match paliadin_shared::db::retention::run_once(
            pool,
            days,
            paliadin_shared::db::retention::BATCH,
        )
        .await
        {
            Ok(Some(0)) | Ok(None) => {}
            Ok(Some(n)) => tracing::info!(deleted = n, days, "old turns deleted (retention)"),
            Err(e) => tracing::warn!(error = %e, "cannot delete old turns (retention)"),
        }
    }

    /// Reads as many group heads as there are free slots and starts a task for each.
    async fn claim(
        &self,
        slots: &Arc<Semaphore>,
        tracker: &TaskTracker,
        freed: &Arc<Notify>,
    ) -> usize {
        let mut claimed = 0;
        for h in &self.hosts {
            let free = slots.available_permits();
            if free == 0 {
                break;
            }
            let leased = match self
                .ctx
                .queue
                .read_heads(&h.name, self.ctx.config.lease_secs, free as i32)
                .await
            {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(host = %h.name, error = %e, "cannot read the queue");
                    continue;
                }
            };
            for msg in leased {
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    break;
                };
                let control = TurnControl::default();
                self.running
                    .lock()
                    .expect("lock")
                    .insert(msg.turn_id, control.clone());
                let slot = Slot {
                    turn_id: msg.turn_id,
                    running: self.running.clone(),
                    freed: freed.clone(),
                    _permit: permit,
                };
                let ctx = self.ctx.clone();
                tracker.spawn(async move {
                    turn::run(ctx, msg, control).await;
                    drop(slot);
                });
                claimed += 1;
            }
        }
        claimed
    }

    /// Records each served host's reachability (as its driver sees it) in `hosts`: always when
    /// `all` (the heartbeat), else only hosts whose reachability changed since the last write.
    async fn report_hosts(&self, all: bool) {
        for h in &self.hosts {
            let seen = match self.ctx.driver(&h.name).map(|d| d.reachability()) {
                Ok(r) => r,
                Err(e) => Err(e.to_string()),
            };
            let (ok, err) = (seen.is_ok(), seen.err());
            let before = self
                .reported
                .lock()
                .expect("lock")
                .insert(h.name.clone(), ok);
            if !all && before == Some(ok) {
                continue;
            }
            let name = h.name.as_str();
            if let Err(e) =
                fleet::host_seen(&self.ctx.pool, name, &h.address, ok, err.as_deref()).await
            {
                tracing::warn!(host = name, error = %e, "cannot record the host's state");
            }
        }
    }

    fn on_notification(&self, n: &PgNotification) {
        let channel = n.channel();
        if channel != CANCEL_CHANNEL && channel != PERMISSION_CHANNEL {
            return;
        }
        let Ok(id) = Uuid::parse_str(n.payload()) else {
            return;
        };
        let running = self.running.lock().expect("lock");
        let Some(c) = running.get(&id) else {
            return;
        };
        if channel == CANCEL_CHANNEL {
            tracing::info!(turn_id = %id, "cancel requested");
            c.cancel.cancel();
        } else {
            // A stored wake-up: the turn re-reads its open request even if it is not waiting
            // on it yet.
            c.decided.notify_one();
        }
    }

    async fn drain(&self, tracker: TaskTracker) {
        tracker.close();
        let grace = Duration::from_secs(self.ctx.config.shutdown_grace_secs);
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::info!("grace period over: releasing in-flight turns to other workers");
            for c in self.running.lock().expect("lock").values() {
                c.abandon.cancel();
            }
            tracker.wait().await;
        }
    }
}

//! The agents of each served host, recorded in its `hosts` row for the admin dashboard
//! (`docs/operations.md`, "Live agents"): with every heartbeat, what this worker's metrics
//! counted since its last write ([`crate::metrics::WorkerMetrics::agents_of`]) is added to the
//! host's totals, so they add up over every worker that serves the host and outlive each one.
//! The live count is written when it changed, and after each idle sweep (which counts afresh):
//! several workers on one tmux server then do not put back an older count than another's.
//! After each sweep the live conversations of each host are listed too ([`Lister`]).

use super::ServedHost;
use crate::driver::Driver;
use crate::metrics::{AgentFigures, WorkerMetrics};
use paliadin_shared::HostName;
use paliadin_shared::db::fleet::{self, AgentsSeen};
use paliadin_shared::db::live_agents::{self, LiveWindow};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;

/// What was last written per host: the figures the next write is the increment over.
#[derive(Default)]
pub struct Recorder {
    written: HashMap<String, AgentFigures>,
}

impl Recorder {
    /// Starts from what the metrics say now (a driver's figures before any count are not news).
    pub fn new(metrics: &WorkerMetrics, hosts: &[ServedHost]) -> Recorder {
        let written = hosts
            .iter()
            .map(|h| (h.name.to_string(), metrics.agents_of(h.name.as_str())))
            .collect();
        Recorder { written }
    }

    /// Writes each host's news; `swept`: the live agents were just counted afresh.
    pub async fn record(&mut self, pool: &PgPool, metrics: &WorkerMetrics, swept: bool) {
        for (name, before) in self.written.iter_mut() {
            let now = metrics.agents_of(name);
            let seen = news(before, &now, swept);
            if seen.is_empty() {
                continue;
            }
            match fleet::host_agents(pool, name, &seen).await {
                Ok(true) => *before = now,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(host = %name, error = %e, "cannot record the host's agents")
                }
            }
        }
    }
}

/// Writes which conversations have a live agent on each served host
/// (`paliadin_shared::db::live_agents`), for the conversations list's `idle` / `stopped`;
/// after each idle sweep, in a task of its own (a slow host does not hold the worker's loop),
/// one listing at a time. A driver that cannot list its agents now is skipped (its host's last
/// listing stays).
#[derive(Default)]
pub struct Lister {
    running: Option<tokio::task::JoinHandle<()>>,
}

impl Lister {
    /// Starts a listing of every host, unless the previous one still runs.
    pub fn start(&mut self, ctx: &Arc<super::Ctx>) {
        if self.running.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let ctx = ctx.clone();
        self.running = Some(tokio::spawn(async move {
            list_live(&ctx.pool, ctx.drivers.iter()).await
        }));
    }
}

async fn list_live<'a>(
    pool: &PgPool,
    drivers: impl IntoIterator<Item = (&'a HostName, &'a Arc<dyn Driver>)>,
) {
    for (host, driver) in drivers {
        // Taken before the listing, by the database's clock (the turns' `finished_at` is): a
        // turn that ends after it still counts as live.
        let listed_at = match live_agents::clock(pool).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the hosts' live agents");
                return;
            }
        };
        let Some(live) = driver.live_conversations().await else {
            continue;
        };
        let windows: Vec<LiveWindow> = live
            .windows
            .iter()
            .filter_map(|s| {
                Some(LiveWindow {
                    tmux_session: s.session().as_str().to_owned(),
                    conversation: s.conversation()?,
                })
            })
            .collect();
        let counted = (live.windows.len(), live.max);
        if let Err(e) =
            live_agents::replace(pool, host.as_str(), &windows, counted, listed_at).await
        {
            tracing::warn!(host = %host, error = %e, "cannot record the host's live agents");
        }
    }
}

/// The increments from `before` to `now`, and the count when it is news.
fn news(before: &AgentFigures, now: &AgentFigures, swept: bool) -> AgentsSeen {
    let grew = |a: u64, b: u64| b.saturating_sub(a) as i64;
    let fresh = swept || (now.live, now.max) != (before.live, before.max);
    let max = (now.max > 0).then_some(now.max as i32);
    AgentsSeen {
        counted: now.live.filter(|_| fresh).map(|live| (live as i32, max)),
        starts: grew(before.starts, now.starts),
        resumes: grew(before.resumes, now.resumes),
        stops_idle: grew(before.stops_idle, now.stops_idle),
        stops_capacity: grew(before.stops_capacity, now.stops_capacity),
        stops_crash: grew(before.stops_crash, now.stops_crash),
        deferred: grew(before.deferred, now.deferred),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_increments_and_new_counts_are_written() {
        let before = AgentFigures {
            live: Some(2),
            max: 3,
            starts: 4,
            stops_capacity: 1,
            ..Default::default()
        };
        assert!(news(&before, &before, false).is_empty());
        assert_eq!(news(&before, &before, true).counted, Some((2, Some(3))));
        let now = AgentFigures {
            live: Some(3),
            starts: 5,
            resumes: 1,
            stops_capacity: 2,
            deferred: 1,
            ..before
        };
        let seen = news(&before, &now, false);
        assert_eq!(seen.counted, Some((3, Some(3))));
        assert_eq!((seen.starts, seen.resumes), (1, 1));
        assert_eq!((seen.stops_capacity, seen.stops_idle), (1, 0));
        assert_eq!(seen.deferred, 1);
        let unlimited = AgentFigures { max: 0, ..now };
        assert_eq!(news(&now, &unlimited, false).counted, Some((3, None)));
        // A host agent's host: only its waits are known here.
        let remote = AgentFigures {
            deferred: 2,
            ..Default::default()
        };
        let seen = news(&AgentFigures::default(), &remote, true);
        assert_eq!((seen.counted, seen.deferred), (None, 2));
    }
}

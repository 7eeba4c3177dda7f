//! Worker settings: one typed struct from flags and environment, validated at start.

use crate::hosts::Failover;
use clap::Args;
use std::time::Duration;

/// How the claim loop and leases behave. Driver settings live with the driver.
#[derive(Debug, Clone, Args)]
pub struct RuntimeConfig {
    /// This worker's id in the `workers` table (default: `<hostname>-<pid>`).
    #[arg(long, env = "PALIADIN_WORKER_ID")]
    pub worker_id: Option<String>,
    /// Turns this worker runs at once (different users).
    #[arg(long, env = "PALIADIN_CONCURRENCY", default_value_t = 8)]
    pub concurrency: usize,
    /// Lease length: the visibility timeout set when a turn is read, renewed on a heartbeat.
    #[arg(long, env = "PALIADIN_LEASE_SECS", default_value_t = 30)]
    pub lease_secs: i32,
    /// Fallback poll interval when no notification arrives.
    #[arg(long, env = "PALIADIN_POLL_MS", default_value_t = 1000)]
    pub poll_ms: u64,
    /// Attempts before a turn is failed with `worker_lost`.
    #[arg(long, env = "PALIADIN_MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: i32,
    /// A turn's hard limit.
    #[arg(long, env = "PALIADIN_TURN_TIMEOUT_SECS", default_value_t = 120)]
    pub turn_timeout_secs: u64,
    /// How long an agent's permission request waits for the person before it is denied. The
    /// wait does not count against the turn's limit (`docs/agent-protocol.md` §7).
    #[arg(long, env = "PALIADIN_PERMISSION_WAIT_SECS", default_value_t = 1800)]
    pub permission_wait_secs: u64,
    /// On shutdown, how long in-flight turns may finish before their leases are released.
    #[arg(long, env = "PALIADIN_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,
    /// Stop an agent after this many seconds without a turn (cleanly: nothing is lost, its
    /// conversation resumes with the next turn; an agent at work is never stopped); 0: never.
    #[arg(long, env = "PALIADIN_AGENT_IDLE_SECS", default_value_t = 900)]
    pub agent_idle_secs: u64,
    /// tmux session name prefix (`<prefix>-<userid8>`).
    #[arg(long, env = "PALIADIN_SESSION_PREFIX", default_value = "paliadin")]
    pub session_prefix: String,
    /// When a user's host is unreachable: `never` (their turns fail `host_unreachable`) or
    /// `move` (re-pin them to a healthy host, with their queued turns). See `docs/hosts.md`.
    #[arg(long, env = "PALIADIN_FAILOVER", value_enum, default_value_t = Failover::Never)]
    pub failover: Failover,
    /// Archived queue messages older than this are deleted (hourly); 0 keeps them forever.
    /// Turns and their events are kept: they are the conversation history and stay replayable.
    #[arg(long, env = "PALIADIN_ARCHIVE_RETENTION_HOURS", default_value_t = 24 * 7)]
    pub archive_retention_hours: u64,
    /// Finished turns (with their events and permissions) older than this many days are
    /// deleted, hourly, in batches, by one process at a time; 0 (the default) keeps them
    /// forever: the history is the product.
    #[arg(long, env = "PALIADIN_TURN_RETENTION_DAYS", default_value_t = 0)]
    pub turn_retention_days: u32,
    /// Most bytes of one conversation's agent transcript kept in PostgreSQL, from where it is
    /// written back to a host that lacks it before the agent resumes (`docs/operations.md`,
    /// "Transcripts"); past it nothing more is copied (the stored part still restores); 0:
    /// transcripts are not stored.
    #[arg(long, env = "PALIADIN_TRANSCRIPT_MAX_BYTES",
        default_value_t = crate::transcript_store::DEFAULT_MAX_BYTES,
        value_parser = clap::value_parser!(u64).range(0..=crate::transcript_store::MAX_MAX_BYTES))]
    pub transcript_max_bytes: u64,
    /// Model prices for each turn's cost, added to the built-in table: `;`-separated
    /// `<model prefix>=<input>,<output>,<cache read>,<cache write>[,<context window>]`, dollars
    /// per million tokens (`docs/operations.md`, "Usage and cost"). A model no entry matches
    /// is counted in tokens only.
    #[arg(long, env = "PALIADIN_PRICES", default_value = "", value_parser = crate::usage::PriceTable::parse)]
    pub prices: crate::usage::PriceTable,
}

impl Default for RuntimeConfig {
    /// The flags' defaults (one source: the attributes above).
    fn default() -> Self {
        paliadin_shared::config::defaults()
    }
}

impl RuntimeConfig {
    /// How long an agent may go without a turn before it is stopped; None: never.
    pub fn agent_idle(&self) -> Option<Duration> {
        (self.agent_idle_secs > 0).then(|| Duration::from_secs(self.agent_idle_secs))
    }

    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms.max(10))
    }

    /// Heartbeat period: a third of the lease, so two heartbeats may fail before it lapses.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis((self.lease_secs.max(3) as u64 * 1000) / 3)
    }

    pub fn turn_timeout(&self) -> Duration {
        Duration::from_secs(self.turn_timeout_secs)
    }

    pub fn permission_wait(&self) -> Duration {
        Duration::from_secs(self.permission_wait_secs.max(1))
    }

    pub fn resolved_worker_id(&self) -> String {
        self.worker_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "worker".into());
            format!("{}-{}", host.trim(), std::process::id())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_flag_attributes() {
        let d = RuntimeConfig::default();
        assert_eq!((d.concurrency, d.lease_secs, d.max_attempts), (8, 30, 3));
        assert_eq!(
            (d.session_prefix.as_str(), d.failover),
            ("paliadin", Failover::Never)
        );
        assert_eq!(d.archive_retention_hours, 24 * 7);
    }
}

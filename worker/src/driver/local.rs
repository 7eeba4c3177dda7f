//! `LocalDriver`: the [`Driver`] for agents in tmux sessions on this machine.
//!
//! A thin shell over [`TmuxHost`], which holds all the session-driving logic so that the SSH
//! host agent can run the very same code next to a remote tmux server.

use super::{DriveError, Driver, Progress, TurnControl, TurnSpec};
use crate::tmux::capacity::{AgentEvents, StopReason};
use crate::tmux::{StartError, Tmux, TmuxConfig, TmuxHost};
use async_trait::async_trait;
use paliadin_shared::SessionName;
use paliadin_shared::domain::trailer::Reply;
use prometheus::core::Collector;
use prometheus::{HistogramVec, IntCounterVec, IntGaugeVec, Opts};
use std::sync::Arc;
use uuid::Uuid;

/// The local driver's settings are the tmux host's.
pub type LocalConfig = TmuxConfig;

/// Drives agents on this machine's tmux server. One instance serves many turns concurrently.
pub struct LocalDriver {
    host: TmuxHost,
    /// The latency of every tmux call, exported by the worker that uses this driver.
    timings: HistogramVec,
    /// Its agents' starts, stops and counts.
    agents: Arc<AgentMetrics>,
}

impl LocalDriver {
    /// Prepares the spool directory and starts watching it; tmux itself is first used per turn.
    /// Its metrics name the host `local`.
    pub fn new(config: LocalConfig) -> Result<LocalDriver, StartError> {
        LocalDriver::for_host(config, "local")
    }

    /// [`LocalDriver::new`] for the served host `host` (the `host` label of its metrics).
    pub fn for_host(config: LocalConfig, host: &str) -> Result<LocalDriver, StartError> {
        let timings = crate::metrics::tmux_timings();
        let tmux = Tmux::new(&config.tmux_bin, config.socket.clone()).timed(timings.clone());
        let agents = Arc::new(AgentMetrics::new(host));
        let max = config.max_live_agents.unwrap_or(0) as i64;
        agents.max.with_label_values(&[host]).set(max);
        Ok(LocalDriver {
            host: TmuxHost::start_with(config, tmux)?.with_events(agents.clone()),
            timings,
            agents,
        })
    }

    /// The core this driver delegates to (spool, sessions, tmux handle).
    pub fn host(&self) -> &TmuxHost {
        &self.host
    }
}

#[async_trait]
impl Driver for LocalDriver {
    async fn run_turn(
        &self,
        spec: &TurnSpec,
        progress: &dyn Progress,
        control: &TurnControl,
    ) -> Result<Reply, DriveError> {
        self.host.run_turn(spec, progress, control).await
    }

    async fn reset(&self, _user: Uuid, session: &SessionName) -> Result<(), DriveError> {
        self.host.reset(session).await
    }

    async fn settle(&self, _user: Uuid, turn: Uuid) {
        self.host.settle(turn);
    }

    async fn purge_uploads(&self, _user: Uuid, turns: &[Uuid]) -> Result<(), String> {
        self.host
            .purge_uploads(turns.to_vec())
            .await
            .map_err(|e| e.to_string())
    }

    async fn transcript(
        &self,
        _user: Uuid,
        op: crate::transcript_store::TranscriptOp,
    ) -> Result<crate::transcript_store::TranscriptAnswer, DriveError> {
        crate::transcript_store::file::apply(&self.host, op).await
    }

    async fn stop_idle(&self, idle: std::time::Duration) -> usize {
        self.host.stop_idle(idle).await
    }

    async fn live_conversations(&self) -> Option<crate::contract::LiveAgents> {
        match crate::tmux::capacity::list(self.host.tmux()).await {
            Ok(agents) => Some(crate::contract::LiveAgents {
                windows: agents
                    .into_iter()
                    .filter(|a| !a.dead && a.session.conversation().is_some())
                    .map(|a| a.session)
                    .collect(),
                max: self.host.config().max_live_agents,
            }),
            Err(e) => {
                tracing::debug!(error = %e, "cannot list the live agents");
                None
            }
        }
    }

    async fn close(&self) {
        self.host.close().await;
    }

    async fn pane(
        &self,
        _user: Uuid,
        session: &SessionName,
    ) -> Result<crate::tmux::pane_view::PaneView, DriveError> {
        crate::tmux::pane_view::read(self.host.tmux(), session)
            .await
            .map_err(|e| pane_error(session, e))
    }

    fn counts_closing_requests(&self) -> bool {
        true
    }

    fn metrics(&self) -> Vec<Box<dyn Collector>> {
        let a = &self.agents;
        vec![
            Box::new(self.timings.clone()),
            Box::new(a.live.clone()),
            Box::new(a.max.clone()),
            Box::new(a.stops.clone()),
            Box::new(a.starts.clone()),
        ]
    }
}

/// The agents of a local tmux host as metrics (`docs/operations.md`, "Metrics").
struct AgentMetrics {
    host: String,
    live: IntGaugeVec,
    max: IntGaugeVec,
    stops: IntCounterVec,
    starts: IntCounterVec,
}

impl AgentMetrics {
    fn new(host: &str) -> AgentMetrics {
        let gauge = |name: &str, help: &str| {
            IntGaugeVec::new(Opts::new(name, help), &["host"]).expect("a valid gauge")
        };
        let counter = |name: &str, help: &str, label: &str| {
            IntCounterVec::new(Opts::new(name, help), &["host", label]).expect("a valid counter")
        };
        let m = AgentMetrics {
            host: host.to_owned(),
            live: gauge(
                "paliadin_agents_live",
                "Live agents on the host's tmux server, as last counted (each agent start, each idle sweep).",
            ),
            max: gauge(
                "paliadin_agents_max",
                "PALIADIN_MAX_LIVE_AGENTS of the host as this worker applies it (0: no limit).",
            ),
            stops: counter(
                "paliadin_agent_stops_total",
                "Agents stopped or found gone, by reason: idle, capacity (least recently used, to make room), crash.",
                "reason",
            ),
            starts: counter(
                "paliadin_agent_starts_total",
                "Agents started, by mode: start (a new conversation) or resume (one with earlier turns).",
                "mode",
            ),
        };
        for reason in [StopReason::Idle, StopReason::Capacity, StopReason::Crash] {
            m.stops.with_label_values(&[host, reason.as_str()]);
        }
        for mode in ["start", "resume"] {
            m.starts.with_label_values(&[host, mode]);
        }
        m.live.with_label_values(&[host]);
        m.max.with_label_values(&[host]);
        m
    }
}

impl AgentEvents for AgentMetrics {
    fn started(&self, resumed: bool) {
        let mode = if resumed { "resume" } else { "start" };
        self.starts.with_label_values(&[&self.host, mode]).inc();
    }

    fn stopped(&self, reason: StopReason, n: usize) {
        self.stops
            .with_label_values(&[&self.host, reason.as_str()])
            .inc_by(n as u64);
    }

    fn counted(&self, live: usize, max: Option<usize>) {
        self.live.with_label_values(&[&self.host]).set(live as i64);
        let max = max.unwrap_or(0) as i64;
        self.max.with_label_values(&[&self.host]).set(max);
    }
}

/// A failed look at a pane, as the terminal view reports it.
pub(crate) fn pane_error(session: &SessionName, e: crate::tmux::TmuxError) -> DriveError {
    if e.is_missing() {
        DriveError::SessionLost(format!("no session {session}"))
    } else {
        DriveError::TmuxUnavailable(e.to_string())
    }
}

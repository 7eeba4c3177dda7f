//! `LocalDriver`: the [`Driver`] for agents in tmux sessions on this machine.
//!
//! A thin shell over [`TmuxHost`], which holds all the session-driving logic so that the SSH
//! host agent can run the very same code next to a remote tmux server.

use super::{DriveError, Driver, Progress, TurnControl, TurnSpec};
use crate::tmux::{StartError, Tmux, TmuxConfig, TmuxHost};
use async_trait::async_trait;
use paliadin_shared::SessionName;
use paliadin_shared::domain::trailer::Reply;
use prometheus::HistogramVec;
use prometheus::core::Collector;
use uuid::Uuid;

/// The local driver's settings are the tmux host's.
pub type LocalConfig = TmuxConfig;

/// Drives agents on this machine's tmux server. One instance serves many turns concurrently.
pub struct LocalDriver {
    host: TmuxHost,
    /// The latency of every tmux call, exported by the worker that uses this driver.
    timings: HistogramVec,
    /// Agents stopped for having no turn for `PALIADIN_AGENT_IDLE_SECS`.
    idle_stops: prometheus::IntCounter,
}

impl LocalDriver {
    /// Prepares the spool directory and starts watching it; tmux itself is first used per turn.
    pub fn new(config: LocalConfig) -> Result<LocalDriver, StartError> {
        let timings = crate::metrics::tmux_timings();
        let tmux = Tmux::new(&config.tmux_bin, config.socket.clone()).timed(timings.clone());
        let idle_stops = prometheus::IntCounter::new(
            "paliadin_agent_idle_stops_total",
            "Agents stopped after PALIADIN_AGENT_IDLE_SECS without a turn (they resume on the next).",
        )
        .expect("a valid counter");
        Ok(LocalDriver {
            host: TmuxHost::start_with(config, tmux)?,
            timings,
            idle_stops,
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
        let n = self.host.stop_idle(idle).await;
        self.idle_stops.inc_by(n as u64);
        n
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
        vec![
            Box::new(self.timings.clone()),
            Box::new(self.idle_stops.clone()),
        ]
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

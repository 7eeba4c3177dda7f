//! The `Driver` seam: how a worker runs one turn against an agent, wherever it lives.
//!
//! A driver delivers the envelope to the user's agent session, reports progress, and returns the
//! parsed reply. Implementations: local tmux (this host) and SSH (a remote host agent, see
//! [`ssh`]); tests may plug in an in-process driver to pin queue semantics.

pub mod local;
pub mod ssh;

use async_trait::async_trait;
use paliadin_shared::domain::trailer::{Reply, TrailerError};
use paliadin_shared::{HostName, SessionName, UserMessage};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What to run.
#[derive(Debug, Clone)]
pub struct TurnSpec {
    pub turn_id: Uuid,
    pub user_id: Uuid,
    pub host: HostName,
    pub session: SessionName,
    pub message: UserMessage,
    /// A previous attempt already pasted this turn: never paste it again, only wait for its reply.
    pub already_delivered: bool,
    /// The turn's hard limit, counted from when this attempt started.
    pub timeout: Duration,
}

/// Signals from the worker to a running turn.
#[derive(Debug, Clone, Default)]
pub struct TurnControl {
    /// The user cancelled: interrupt the agent (Escape) and return [`DriveError::Cancelled`].
    pub cancel: CancellationToken,
    /// The worker lost the lease or is shutting down: stop watching, leave the agent alone
    /// (another worker takes over), return [`DriveError::Abandoned`].
    pub abandon: CancellationToken,
}

/// Where a driver reports progress; the worker turns each call into a durable event.
#[async_trait]
pub trait Progress: Send + Sync {
    /// The envelope reached the agent (submission confirmed).
    async fn delivered(&self);
    /// A piece of the reply, in order.
    async fn content(&self, delta: &str);
    /// What the agent is doing (tool use, progress).
    async fn activity(&self, text: &str);
}

/// Why a turn did not produce a reply. Maps 1:1 onto the ⚑ error codes (plus cancel/abandon).
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error("the turn exceeded its time limit")]
    Timeout,
    #[error("cancelled")]
    Cancelled,
    #[error("abandoned by this worker")]
    Abandoned,
    #[error("the reply is malformed: {0}")]
    InvalidReply(TrailerError),
    #[error("the agent's session was lost: {0}")]
    SessionLost(String),
    #[error("tmux is unavailable: {0}")]
    TmuxUnavailable(String),
    #[error("the host is unreachable: {0}")]
    HostUnreachable(String),
    #[error("{0}")]
    Upstream(String),
}

/// Drives agents. One instance serves many turns concurrently (different users).
#[async_trait]
pub trait Driver: Send + Sync {
    /// Runs one turn to its reply.
    async fn run_turn(
        &self,
        spec: &TurnSpec,
        progress: &dyn Progress,
        control: &TurnControl,
    ) -> Result<Reply, DriveError>;

    /// Kills the session (the next turn starts a fresh agent). Killing a missing session is Ok.
    async fn reset(&self, session: &SessionName) -> Result<(), DriveError>;

    /// Whether the host this driver reaches is usable now (`Err` holds the last error), for the
    /// `hosts` table and routing. A local tmux server is always reachable.
    fn reachability(&self) -> Result<(), String> {
        Ok(())
    }
}

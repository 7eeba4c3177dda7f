//! The driver contract: what a worker asks of a driver for one turn and what it hears back —
//! the turn ([`TurnSpec`], its [`Conversation`]), the progress it reports ([`Progress`]), how it
//! ends ([`DriveError`], [`DriveCode`]) and the [`Driver`] trait itself. Kept apart from the
//! drivers (`crate::driver`) so that the tmux core (`crate::tmux`), which implements the local
//! side, depends on the contract only, not on the drivers built on it.

use async_trait::async_trait;
use paliadin_shared::domain::agent_failure::AgentFailure;
use paliadin_shared::domain::permission::{PermissionAnswer, PermissionAsk};
use paliadin_shared::domain::trailer::{Reply, TrailerError};
use paliadin_shared::events::ErrorCode;
use paliadin_shared::{SessionName, UserMessage};
use std::time::Duration;
use uuid::Uuid;

pub use paliadin_shared::attempt::TurnControl;

/// What to run.
#[derive(Debug, Clone)]
pub struct TurnSpec {
    pub turn_id: Uuid,
    pub user_id: Uuid,
    pub session: SessionName,
    /// The conversation the turn belongs to: the agent that answers must hold it.
    pub conversation: Conversation,
    pub message: UserMessage,
    /// The files sent with the message, written into the agent's working directory before the
    /// paste and named in the envelope ([`crate::uploads`]).
    pub uploads: Vec<crate::uploads::TurnUpload>,
    /// A previous attempt already pasted this turn: never paste it again, only wait for its reply.
    pub already_delivered: bool,
    /// An earlier attempt may have pasted this turn without recording it (it died between the
    /// paste and the commit of its delivery): look at the turn's traces before pasting
    /// (`crate::tmux::resume`).
    pub resume: bool,
    /// The turn's hard limit, counted from when this attempt started.
    pub timeout: Duration,
}

/// A Paliadin conversation (its `session_id`), which owns one agent conversation of the same id
/// (`crate::tmux::launch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversation {
    pub id: Uuid,
    /// An earlier turn of it reached an agent: an agent started for it must continue it.
    pub continues: bool,
}

impl Conversation {
    /// A conversation no agent has seen yet.
    pub fn new(id: Uuid) -> Conversation {
        Conversation {
            id,
            continues: false,
        }
    }
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
    /// The agent asks the person before a tool runs (its request `n` in this turn); returns
    /// the answer once there is one — the owner's, or a denial when the request expires. The
    /// turn's own time limit does not run meanwhile. `None`: no answer will come from here
    /// (this worker lost the turn); the driver writes nothing.
    async fn permission(&self, n: u32, ask: &PermissionAsk) -> Option<PermissionAnswer>;
    /// The agent shows a question in its terminal that no hook reported (`screen`: the end of
    /// the pane's text): the person has to answer it there, or cancel the turn.
    async fn waiting(&self, screen: &str);
    /// The agent retries its model's API by itself (read from its screen): `attempt` of `of`
    /// failed, the next in `next_in` seconds.
    async fn retrying(&self, _attempt: u32, _of: u32, _next_in: u64) {}
    /// The agent compacts its conversation (`done: false`) or has finished (`done: true`);
    /// `trigger` is `auto`, `manual` or `unknown` (the compaction hooks).
    async fn compacting(&self, _done: bool, _trigger: &str) {}
    /// One new step of the turn's work log, bounded (`crate::worklog`), numbered from 1 in the
    /// transcript's order; a takeover reports the earlier steps again, with the same numbers.
    async fn step(&self, _step: &crate::worklog::step::Step) {}
}

/// A host's live agent windows as its driver lists them ([`Driver::live_conversations`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveAgents {
    /// Each live conversation's window (`<session>:c-<hex>`).
    pub windows: Vec<SessionName>,
    /// The host's live-agent limit as applied there (`PALIADIN_MAX_LIVE_AGENTS`); None: none,
    /// or not told (a host agent of an earlier release).
    pub max: Option<usize>,
}

/// Why a turn did not produce a reply. [`DriveError::code`] names each one.
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
    /// The agent's command exited as its session started; the text is the end of its pane
    /// (bounded, control characters removed: `tmux::session::last_lines`), e.g.
    /// `env: 'claude': No such file or directory`. Its code is `session_lost`.
    #[error("the agent exited as it started: {0}")]
    AgentExited(String),
    #[error("tmux is unavailable: {0}")]
    TmuxUnavailable(String),
    #[error("the host is unreachable: {0}")]
    HostUnreachable(String),
    #[error("{0}")]
    Upstream(String),
    /// The agent's model call failed and the agent said so (Claude Code's `StopFailure` hook,
    /// or its screen): the kind and the agent's own words, cleaned and bounded. Its code is
    /// `agent_error`.
    #[error("the agent's model call failed ({}): {}", .0.kind, .0.message)]
    Agent(AgentFailure),
    /// The turn needs a new agent and its host holds `PALIADIN_MAX_LIVE_AGENTS`, every one at
    /// work ([`crate::tmux::capacity`]): nothing was pasted; the turn waits in the queue.
    #[error("every agent of the host is at work: {0}")]
    AgentsFull(String),
}

/// How a turn without a reply ended, as one code: a failure with its ⚑ error code, or one of
/// the two endings that are not failures. The worker's outcome and the host-agent wire
/// (`docs/hosts.md`) both use this one vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveCode {
    Failed(ErrorCode),
    /// The user cancelled; the turn ends `cancelled`.
    Cancelled,
    /// The worker let go; another attempt takes the turn over.
    Abandoned,
    /// The host had no room for the turn's agent: it goes back to the queue for a while,
    /// without spending an attempt (on the wire `agents_full`).
    Deferred,
}

impl DriveCode {
    pub fn as_str(self) -> &'static str {
        match self {
            DriveCode::Failed(code) => code.as_str(),
            DriveCode::Cancelled => "cancelled",
            DriveCode::Abandoned => "abandoned",
            DriveCode::Deferred => "agents_full",
        }
    }

    pub fn parse(s: &str) -> Option<DriveCode> {
        match s {
            "cancelled" => Some(DriveCode::Cancelled),
            "abandoned" => Some(DriveCode::Abandoned),
            "agents_full" => Some(DriveCode::Deferred),
            s => s.parse().ok().map(DriveCode::Failed),
        }
    }
}

impl DriveError {
    /// The code of this ending. Exhaustive on purpose: a new variant needs a code to compile.
    pub fn code(&self) -> DriveCode {
        match self {
            DriveError::Timeout => DriveCode::Failed(ErrorCode::Timeout),
            DriveError::Cancelled => DriveCode::Cancelled,
            DriveError::Abandoned => DriveCode::Abandoned,
            DriveError::InvalidReply(_) => DriveCode::Failed(ErrorCode::InvalidReply),
            DriveError::SessionLost(_) | DriveError::AgentExited(_) => {
                DriveCode::Failed(ErrorCode::SessionLost)
            }
            DriveError::TmuxUnavailable(_) => DriveCode::Failed(ErrorCode::TmuxUnavailable),
            DriveError::HostUnreachable(_) => DriveCode::Failed(ErrorCode::HostUnreachable),
            DriveError::Upstream(_) => DriveCode::Failed(ErrorCode::UpstreamError),
            DriveError::Agent(_) => DriveCode::Failed(ErrorCode::AgentError),
            DriveError::AgentsFull(_) => DriveCode::Deferred,
        }
    }

    /// Back from a code (the host-agent wire): `message` is the detail, `text` an
    /// `invalid_reply`'s text or, with `session_lost`, a dead agent's last words. `worker_lost` is the worker's own verdict, never a host's: a host
    /// that sends it is answered as an upstream error.
    pub fn from_code(code: DriveCode, message: String, text: Option<String>) -> DriveError {
        match code {
            DriveCode::Cancelled => DriveError::Cancelled,
            DriveCode::Abandoned => DriveError::Abandoned,
            DriveCode::Deferred => DriveError::AgentsFull(message),
            DriveCode::Failed(c) => match c {
                ErrorCode::Timeout => DriveError::Timeout,
                ErrorCode::InvalidReply => DriveError::InvalidReply(TrailerError {
                    reason: message,
                    text: text.unwrap_or_default(),
                }),
                ErrorCode::SessionLost => match text {
                    Some(words) => {
                        DriveError::AgentExited(crate::tmux::session::last_lines(&words))
                    }
                    None => DriveError::SessionLost(message),
                },
                ErrorCode::TmuxUnavailable => DriveError::TmuxUnavailable(message),
                ErrorCode::HostUnreachable => DriveError::HostUnreachable(message),
                ErrorCode::UpstreamError => DriveError::Upstream(message),
                ErrorCode::WorkerLost => DriveError::Upstream(format!("worker_lost: {message}")),
                // The wire's `text` carries the kind.
                ErrorCode::AgentError => DriveError::Agent(AgentFailure::new(
                    text.as_deref().unwrap_or("unknown"),
                    &message,
                )),
            },
        }
    }

    /// The text the host-agent wire carries beside the code: an `invalid_reply`'s text, or a
    /// dead agent's last words.
    pub fn wire_text(&self) -> Option<&str> {
        match self {
            DriveError::AgentExited(words) => Some(words),
            DriveError::Agent(failure) => Some(&failure.kind),
            other => other.kept_text(),
        }
    }

    /// An `agent_error`'s kind.
    pub fn kind(&self) -> Option<&str> {
        match self {
            DriveError::Agent(failure) => Some(&failure.kind),
            _ => None,
        }
    }

    /// Reply text worth keeping with a failure (an `invalid_reply`'s text).
    pub fn kept_text(&self) -> Option<&str> {
        match self {
            DriveError::InvalidReply(t) => Some(&t.text),
            DriveError::AgentExited(_)
            | DriveError::Timeout
            | DriveError::Cancelled
            | DriveError::Abandoned
            | DriveError::SessionLost(_)
            | DriveError::TmuxUnavailable(_)
            | DriveError::HostUnreachable(_)
            | DriveError::Upstream(_)
            | DriveError::Agent(_)
            | DriveError::AgentsFull(_) => None,
        }
    }
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

    /// Kills `user`'s session (the next turn starts a fresh agent). Killing a missing session
    /// is Ok.
    async fn reset(&self, user: Uuid, session: &SessionName) -> Result<(), DriveError>;

    /// `user`'s turn's result is committed: its files on the host may go (to `done/`). Until
    /// then they stay, so a takeover after a failed commit finds the reply again. Best effort.
    async fn settle(&self, _user: Uuid, _turn: Uuid) {}

    /// Whether the host this driver reaches is usable now (`Err` holds the last error), for the
    /// `hosts` table and routing. A local tmux server is always reachable.
    fn reachability(&self) -> Result<(), String> {
        Ok(())
    }

    /// Stops the agents on this driver's host that had no turn for `idle` (cleanly; their
    /// conversations resume with their next turn). Returns how many. A remote host's agent
    /// does this itself (`paliadin-shim serve`).
    async fn stop_idle(&self, _idle: std::time::Duration) -> usize {
        0
    }

    /// The live agent windows of conversations on this driver's host (`<session>:c-<hex>`,
    /// [`SessionName::conversation`]), for the conversations list's `idle` / `stopped`
    /// (`paliadin_shared::db::live_agents`). `None`: this driver cannot tell now (an
    /// `accounts://` host, whose accounts' tmux servers no one process sees; an unreachable SSH
    /// host or one whose host agent is too old); the API then says neither live nor stopped.
    async fn live_conversations(&self) -> Option<LiveAgents> {
        None
    }

    /// Removes the files sent with `user`'s `turns` from this driver's host (their rows are
    /// gone: [`paliadin_shared::db::uploads::take_purges`]). `Err` keeps them queued.
    async fn purge_uploads(&self, _user: Uuid, _turns: &[Uuid]) -> Result<(), String> {
        Err("this driver keeps no files".into())
    }

    /// One operation on the transcript file of `user`'s conversation on this driver's host
    /// (`crate::transcript_store`), as the account `user`'s agents run under: the worker itself
    /// never opens a file in an owner's home. A driver that cannot answers `Upstream`.
    async fn transcript(
        &self,
        _user: Uuid,
        _op: crate::transcript_store::TranscriptOp,
    ) -> Result<crate::transcript_store::TranscriptAnswer, DriveError> {
        Err(DriveError::Upstream(
            "this host keeps no agent transcripts".into(),
        ))
    }

    /// The worker is exiting: let go of what this driver holds on its host (the local driver's
    /// tmux control client). Turns have ended by then.
    async fn close(&self) {}

    /// What `user`'s session's pane shows now, for the live, read-only terminal view
    /// (`crate::terminal`): only reads (`display-message`, `capture-pane -e -p`), never sends a
    /// key. A driver that cannot look answers `Upstream`.
    async fn pane(
        &self,
        _user: Uuid,
        _session: &SessionName,
    ) -> Result<crate::tmux::pane_view::PaneView, DriveError> {
        Err(DriveError::Upstream(
            "this host cannot show its terminal".into(),
        ))
    }

    /// Whether this driver counts each turn's closing request (the model call after the reply)
    /// in `paliadin_agent_tokens_total` itself, once its agent stops
    /// (`crate::usage::closing`). Where it does not, the worker counts what the next turn's
    /// transcript read adds to the earlier turns of the conversation instead
    /// (`crate::usage::later`).
    fn counts_closing_requests(&self) -> bool {
        false
    }

    /// The driver's own metrics, for the registry of the worker that uses it.
    fn metrics(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        Vec::new()
    }
}

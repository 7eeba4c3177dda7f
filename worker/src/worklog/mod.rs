//! The work log: what the agent said and did during a turn, streamed as durable `step` events
//! (`docs/agent-protocol.md`, "Work log").
//!
//! Where the agent runs — the worker itself for the local host, the host agent
//! (`paliadin-shim serve`, as the owner's account) for SSH and `accounts://` hosts — the turn's
//! transcript is followed as the agent appends to it ([`follow`]), each new entry turned into
//! steps ([`transcript`]), each step bounded ([`step`]) and reported through
//! `crate::driver::Progress::step`; a host agent pushes them on its wire, and the worker's
//! event sink writes each once (a takeover skips those already written).
//!
//! The transcript ([`source`]): Claude Code's `<config>/projects/<slug>/<conversation>.jsonl`
//! (`crate::tmux::launch::claude_transcript`); the demo agent keeps the same kind of entries in
//! its conversation file ([`demo_transcript`]); Codex CLI's rollout, which its prompt hook names
//! in `<spool>/.codex-<conversation>` once the turn's prompt is in (`crate::agent::codex_rollout`),
//! in its own entries ([`codex`]). The follower is the same for all; only the parser differs
//! ([`Format`]). Other agents have no work log.

pub mod codex;
pub mod follow;
pub mod step;
pub mod transcript;

use crate::agent::Agent;
use crate::tmux::TmuxConfig;
use std::path::PathBuf;
use step::Step;
use uuid::Uuid;

/// Where the work log of a conversation is read from on this host, and in which format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub format: Format,
    pub locate: Locate,
}

/// How the transcript file is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locate {
    /// A path known before the turn (it may not exist yet).
    File(PathBuf),
    /// Codex's rollout, as its prompt hook records it in the spool: looked up again on every
    /// look, since a new conversation's rollout is named only once its first prompt is in.
    CodexLink { spool: PathBuf, conversation: Uuid },
}

impl Locate {
    /// The transcript file as things stand now, if it can be named yet.
    pub fn path(&self) -> Option<PathBuf> {
        match self {
            Locate::File(p) => Some(p.clone()),
            Locate::CodexLink {
                spool,
                conversation,
            } => crate::agent::codex_rollout(spool, *conversation),
        }
    }
}

/// The kind of entries a transcript holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Claude Code's (and the demo agent's) entries ([`transcript`]).
    Claude,
    /// Codex CLI's rollout entries ([`codex`]).
    Codex,
}

impl Format {
    /// A parser of `turn`'s entries in this format (`hide`: see [`transcript::Parser::new`]).
    pub fn parser(self, turn: Uuid, hide: Vec<String>) -> Box<dyn Entries> {
        match self {
            Format::Claude => Box::new(transcript::Parser::new(turn, hide)),
            Format::Codex => Box::new(codex::Parser::new(turn, hide)),
        }
    }
}

/// What the follower needs of a parser: one turn's steps from the transcript's lines, in order.
pub trait Entries: Send {
    /// The steps one line adds (none for a line that is not an entry).
    fn line(&mut self, line: &[u8]) -> Vec<Step>;
    /// Whether the transcript shows the turn finished.
    fn settled(&self) -> bool;
    /// Whether no more steps can come.
    fn done(&self) -> bool;
}

impl Entries for transcript::Parser {
    fn line(&mut self, line: &[u8]) -> Vec<Step> {
        transcript::Parser::line(self, line)
    }
    fn settled(&self) -> bool {
        transcript::Parser::settled(self)
    }
    fn done(&self) -> bool {
        transcript::Parser::done(self)
    }
}

impl Entries for codex::Parser {
    fn line(&mut self, line: &[u8]) -> Vec<Step> {
        codex::Parser::line(self, line)
    }
    fn settled(&self) -> bool {
        codex::Parser::settled(self)
    }
    fn done(&self) -> bool {
        codex::Parser::done(self)
    }
}

/// Where the work log of `conversation` is read from on this host, if its agent keeps a
/// transcript Paliadin can name.
pub fn source(cfg: &TmuxConfig, conversation: Uuid) -> Option<Source> {
    let (format, locate) = match cfg.launch.agent {
        Agent::Claude => (Format::Claude, Locate::File(cfg.transcript(conversation)?)),
        Agent::Demo => (
            Format::Claude,
            Locate::File(demo_transcript(&cfg.agent_env, conversation)?),
        ),
        Agent::Codex => (
            Format::Codex,
            Locate::CodexLink {
                spool: cfg.spool_dir.clone(),
                conversation,
            },
        ),
        Agent::Other => return None,
    };
    Some(Source { format, locate })
}

/// The demo agent's conversation file (`paliadin_demo_agent::memory`): `$PALIADIN_DEMO_STATE_DIR`, else
/// `$HOME/.local/state/paliadin-demo`, as the agent's environment has them.
pub fn demo_transcript(env: &crate::tmux::AgentEnv, conversation: Uuid) -> Option<PathBuf> {
    let dir = match env.get("PALIADIN_DEMO_STATE_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env.get("HOME").filter(|h| !h.is_empty())?)
            .join(".local/state/paliadin-demo"),
    };
    Some(dir.join(format!("{conversation}.jsonl")))
}

/// What marks a tool call as reply plumbing for `turn`: the spool directory and the turn's
/// file names (`<turn>.md`, `.md.tmp`, `.partial`, `.events`).
pub fn plumbing(spool: &std::path::Path, turn: Uuid) -> Vec<String> {
    let mut hide = vec![
        spool.to_string_lossy().into_owned(),
        "PALIADIN_SPOOL_DIR".to_owned(),
    ];
    hide.extend(["md", "partial", "events"].map(|ext| format!("{turn}.{ext}")));
    hide
}

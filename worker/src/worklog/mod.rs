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
//! The transcript: Claude Code's `<config>/projects/<slug>/<conversation>.jsonl`
//! (`crate::tmux::launch::claude_transcript`); the demo agent keeps the same kind of entries in
//! its conversation file ([`demo_transcript`]). Other agents have no work log.

pub mod follow;
pub mod step;
pub mod transcript;

use crate::tmux::TmuxConfig;
use crate::tmux::launch::AgentKind;
use std::path::PathBuf;
use uuid::Uuid;

/// The transcript file the work log of `conversation` is read from on this host, if its agent
/// keeps one Paliadin can name.
pub fn source(cfg: &TmuxConfig, conversation: Uuid) -> Option<PathBuf> {
    match cfg.launch.kind {
        AgentKind::Claude => cfg.transcript(conversation),
        AgentKind::Demo => demo_transcript(&cfg.agent_env, conversation),
        AgentKind::Other => None,
    }
}

/// The demo agent's conversation file (`crate::demo::memory`): `$PALIADIN_DEMO_STATE_DIR`, else
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

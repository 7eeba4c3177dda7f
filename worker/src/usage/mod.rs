//! What the model spent on each turn, from the agent's own transcript ([`transcript`]), and
//! what that cost ([`prices`]).
//!
//! Claude Code writes each conversation to `<config>/projects/<slug>/<conversation>.jsonl`
//! (`crate::tmux::launch::claude_transcript`); every assistant message there carries its
//! `usage` and `model`. A turn's messages are the assistant messages after the user message
//! that opens with its envelope `[PALIADIN:<turn_id>]`, up to the next envelope. The file is
//! read where the agent runs (the worker's own account, or the host agent on an SSH or
//! accounts:// host), when the turn's reply is in; on the worker's own host once more when the
//! agent has stopped, for the metric ([`closing`]); elsewhere the next turn's read completes
//! the metric ([`later`]). Codex CLI's rollout holds its usage in other entries ([`codex`]).

pub mod closing;
pub mod codex;
pub mod later;
pub mod metrics;
pub mod prices;
pub mod transcript;

pub use prices::PriceTable;

/// The usage of `turn` and the turns before it, from the transcript `agent` keeps at `path`
/// (Claude Code's conversation file, Codex's rollout), once it is written; empty for an agent
/// whose transcript holds no usage Paliadin reads.
pub async fn read_when_written(
    agent: crate::agent::Agent,
    path: std::path::PathBuf,
    turn: uuid::Uuid,
) -> Vec<paliadin_shared::domain::usage::TurnUsage> {
    use crate::agent::Agent;
    match agent {
        Agent::Claude => transcript::read_when_written(path, turn).await,
        Agent::Codex => codex::read_when_written(path, turn).await,
        Agent::Demo | Agent::Other => Vec::new(),
    }
}

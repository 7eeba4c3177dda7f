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
//! the metric ([`later`]).

pub mod closing;
pub mod later;
pub mod metrics;
pub mod prices;
pub mod transcript;

pub use prices::PriceTable;

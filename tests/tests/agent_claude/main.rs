//! The real Claude Code (pinned, `deploy/ensure-claude.sh`) against the scripted Anthropic
//! model on loopback (`paliadin_e2e::model`): turns, control (cancel, timeout), permissions,
//! durable conversations, compaction, model failures and usage. `PALIADIN_CLAUDE_SKIP` makes
//! them skip loudly where Claude cannot be installed.

mod compaction;
mod control;
mod conversations;
mod failures;
mod permission;
mod turns;
mod uploads;
mod usage;
mod worklog;

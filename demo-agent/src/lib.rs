//! The demo agent (`paliadin-demo-agent`): a small interactive terminal program that stands in
//! for Claude Code in the user's tmux pane and speaks the same file protocol
//! (`docs/agent-protocol.md`), so Paliadin runs end to end on machines without `claude`.
//!
//! # Layout
//! - [`input`]: raw terminal bytes → submissions and interrupts (bracketed paste, lone ESC).
//! - [`directive`]: the message's first word → how to answer (`/echo`, `/slow`, …).
//! - [`answer`] and [`replies`]: running a directive; the reply texts.
//! - [`spool`]: the agent side of the spool files (`.ack`, `.partial`, `.events`, `.md`).
//! - [`control`]: which turn runs, which are queued, which one an interrupt hits.
//! - [`terminal`]: raw mode + bracketed paste, restored on exit; a safe transcript printer.
//! - [`memory`]: the conversation it holds (`--session-id` / `--resume`), for `/recall`.
//! - [`agent`]: the threads and the main loop.

pub mod agent;
pub mod answer;
pub mod control;
pub mod directive;
pub mod input;
pub mod memory;
pub mod replies;
pub mod spool;
pub mod terminal;

pub use agent::{CRASH_STATUS, run};
pub use directive::HELP;
pub use memory::Memory;
pub use spool::Spool;

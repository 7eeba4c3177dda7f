//! The `Driver` seam: how a worker runs one turn against an agent, wherever it lives.
//!
//! A driver delivers the envelope to the user's agent session, reports progress, and returns the
//! parsed reply. Implementations: local tmux (this host, the worker's own account), SSH (a
//! remote host agent, see [`ssh`]) and accounts (this host, each owner's agent under its own
//! account through a host agent on a pipe, see [`accounts`]); tests may plug in an in-process
//! driver to pin queue semantics. The contract they implement is `crate::contract`, re-exported
//! here.

pub mod accounts;
pub mod local;
pub mod ssh;
pub mod ssh_uploads;

pub use crate::contract::*;

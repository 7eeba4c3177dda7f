//! Reaching remote tmux hosts: one persistent SSH channel per host to `paliadin-shim serve`.
//!
//! Layout:
//! - [`target`]: the `ssh://` address syntax and the ssh client's arguments;
//! - [`conn`]: one live channel (the `ssh` child process), requests multiplexed by id;
//! - [`link`]: the supervisor that keeps a channel up (keep-alives, reconnect with backoff)
//!   and the health gate turns wait on.
//!
//! The driver on top is [`crate::driver::ssh::SshDriver`]. Why the system `ssh` client rather
//! than an SSH library: `docs/hosts.md`.

pub mod conn;
pub mod link;
pub mod target;

pub use conn::{Call, CallError, Closed, Conn};
pub use link::{Link, LinkOptions};
pub use target::{SshTarget, TargetError};

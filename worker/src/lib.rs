//! Paliadin worker library.
//!
//! # Layout
//! - [`accounts`]: per-owner agent accounts on this machine (`accounts://`, via `sudo`).
//! - [`agent`]: the agent-adapter contract: what differs between Claude Code, Codex, the demo.
//! - [`agent_cmd`]: choosing the agent command (configured, `claude`, or the demo agent).
//! - [`cli`]: the `paliadin-worker` command line (flags + environment).
//! - [`config`]: runtime settings (claim loop, leases, timeouts).
//! - [`doctor`]: `paliadin-worker doctor`'s checks.
//! - [`driver`]: the `Driver` trait and its implementations.
//! - [`hosts`]: the hosts a worker serves (`PALIADIN_HOSTS`) and the failover policy.
//! - [`spool`]: reading the agents' per-turn reply files (inotify).
//! - [`tmux`]: driving agents in tmux sessions (the core of the local and SSH drivers).
//! - [`uploads`]: the files a turn carries, written into the agent's working directory.
//! - [`runtime`]: the claim loop, leases, event sink and terminal writes.
//! - [`metrics`]: Prometheus metrics of the worker and its `/metrics` listener.
//! - [`host_agent`]: the host agent `paliadin-shim serve` (JSON lines over SSH, wraps [`tmux`]).
//! - [`ssh`]: the persistent SSH channel to a remote host's host agent (connect, multiplex, reconnect).
//! - [`terminal`]: the live, read-only terminal views of the hosts this worker serves.
//! - [`transcript_store`]: the agent's transcript copied to PostgreSQL and restored on a host
//!   that lacks it.
//! - [`worklog`]: the turn's work log, followed from the agent's transcript as `step` events.

pub mod accounts;
pub mod agent;
pub mod agent_cmd;
pub mod cli;
pub mod config;
pub mod contract;
pub mod doctor;
pub mod driver;
pub mod hook;
pub mod host_agent;
pub mod hosts;
pub mod metrics;
pub mod runtime;
pub mod spool;
pub mod ssh;
pub mod terminal;
pub mod tmux;
pub mod transcript_store;
pub mod uploads;
pub mod usage;
pub mod worklog;

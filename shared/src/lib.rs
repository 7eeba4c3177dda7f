//! Paliadin's shared library: everything the API and the workers must agree on.
//!
//! # Layout
//! - [`attempt`]: a claimed turn (`Attempt`) owning its fenced writes and its lease heartbeat.
//! - [`domain`]: parse-once newtypes (session names, host names, envelopes, user messages,
//!   reply trailers) so invalid values cannot exist past the edge.
//! - [`events`]: the ⚑ SSE event kinds and error codes, as stored in `turn_events`.
//! - [`config`]: settings defaults from one source (the clap attributes).
//! - [`config_reference`]: a binary's settings as Markdown (`docs/configuration.md`).
//! - [`doctor`]: the `doctor` report and its database and queue checks.
//! - [`db`]: connection, migrations (pgmq SQL-only install + sqlx migrations) and all SQL,
//!   one module per table family.
//! - [`metrics`]: Prometheus registration and text rendering both binaries' `/metrics` use.
//! - [`queue`]: the thin wrapper around pgmq (`turns_<host>` queues, group header, fencing notes).
//! - [`render`]: Markdown to sanitised HTML for finished replies.
//! - [`secret`]: bearer tokens and their hashes (only hashes are stored).
//! - [`telemetry`]: the one tracing initialiser both binaries use.
//! - [`trust`]: whether a directory of ours (a spool, a socket's) is this user's alone.

pub mod attempt;
pub mod config;
pub mod config_reference;
pub mod db;
pub mod doctor;
pub mod domain;
pub mod events;
pub mod metrics;
pub mod queue;
pub mod render;
pub mod secret;
pub mod telemetry;
pub mod trust;

pub use domain::*;

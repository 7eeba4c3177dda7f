//! The `paliadin-worker` command line: every setting (flags + environment). In the library so
//! `docs/configuration.md` is generated from these very definitions.

use crate::config::RuntimeConfig;
use crate::hosts::HostsConfig;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "paliadin-worker",
    version,
    about = "Paliadin worker: claims turns and drives agents in tmux"
)]
pub struct Cli {
    /// PostgreSQL connection string.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    #[command(flatten)]
    pub runtime: RuntimeConfig,
    /// Command started in a new session (default: `claude` if on PATH, else the demo agent).
    #[arg(long, env = "PALIADIN_AGENT_CMD")]
    pub agent_cmd: Option<String>,
    /// Where agents write reply files (default: a per-user runtime dir).
    #[arg(long, env = "PALIADIN_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,
    /// Largest agent reply file of a turn, bytes; a larger one fails the turn `invalid_reply`.
    #[arg(long, env = "PALIADIN_MAX_REPLY_BYTES", default_value_t = crate::spool::DEFAULT_MAX_REPLY_BYTES)]
    pub max_reply_bytes: u64,
    /// Working directory of new agent sessions (default: the worker's).
    #[arg(long, env = "PALIADIN_WORKDIR")]
    pub workdir: Option<PathBuf>,
    #[command(flatten)]
    pub launch: crate::tmux::launch::LaunchSettings,
    #[command(flatten)]
    pub limits: crate::tmux::capacity::LimitSettings,
    /// Extra variables for new agent sessions, beside the worker's own `PATH`, `HOME`, `LANG`,
    /// `ANTHROPIC_*`, … (docs/tmux-driving.md, "The agent's environment"): `NAME` copies this
    /// process's value, `NAME=value` sets one; split like a shell line. Set it in the
    /// environment: a flag's value is visible in `ps`.
    #[arg(long, env = "PALIADIN_AGENT_ENV", hide_env_values = true)]
    pub agent_env: Option<String>,
    /// Paliadin's own tmux server: a socket path, or a bare name for `/tmp/tmux-<uid>/NAME`.
    /// Default: `$XDG_RUNTIME_DIR/paliadin/tmux.sock`, else `/tmp/paliadin-<uid>/tmux.sock` —
    /// never a person's own tmux server (docs/tmux-driving.md).
    #[arg(long, env = "PALIADIN_TMUX_SOCKET")]
    pub tmux_socket: Option<String>,
    /// Send tmux commands through one control-mode client per tmux server (`tmux -C`) instead
    /// of one `tmux` process per command (about half the CPU per turn; docs/tmux-driving.md,
    /// "Control mode"); `false` runs one process per command.
    #[arg(long, env = "PALIADIN_TMUX_CONTROL", default_value = "true", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub tmux_control: bool,
    /// The name of the local host (its queue is `turns_<name>`) when `PALIADIN_HOSTS` is unset.
    #[arg(long, env = "PALIADIN_LOCAL_HOST", default_value = "local")]
    pub local_host: String,
    #[command(flatten)]
    pub hosts: HostsConfig,
    /// Serve Prometheus `GET /metrics` on this address (e.g. `127.0.0.1:9091`); off when unset.
    #[arg(long, env = "PALIADIN_WORKER_METRICS_BIND")]
    pub metrics_bind: Option<std::net::SocketAddr>,
    /// Without a subcommand the worker runs.
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Check this worker's setup with the settings above, one line per check (ok, warn or fail
    /// with the fix); exits 1 when a check failed.
    Doctor,
    /// Print the socket of Paliadin's own tmux server, as these settings resolve it (watch an
    /// agent with `tmux -S "$(paliadin-worker tmux-socket)" attach -t <session>`).
    TmuxSocket,
}

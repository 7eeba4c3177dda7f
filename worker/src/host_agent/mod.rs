//! The host agent, `paliadin-shim serve`: runs on a tmux host, reached by workers over SSH.
//!
//! It speaks JSON lines on stdin/stdout ([`proto`]) and drives the host's tmux sessions with
//! the very same [`TmuxHost`] the local driver uses: one implementation of driving a session,
//! two transports. Logs go to stderr only (stdout is the protocol).
//!
//! Layout:
//! - [`cli`]: the `paliadin-shim` command line;
//! - [`proto`]: the versioned wire types, limits and error codes;
//! - [`lines`]: the bounded line reader (also used by the worker's side);
//! - [`server`]: the request loop: validation, dispatch, the single writer;
//! - [`turn`]: one turn in the host agent: lock, receipts, outcome record, progress forwarding;
//! - [`lock`]: per-turn `flock`s so two host agent processes never drive one turn at once.
//!
//! The protocol, the deployment and the security model are described in `docs/hosts.md`.

pub mod cli;
pub mod code;
pub mod lines;
pub mod lock;
pub mod proto;
pub mod server;
pub mod turn;

use crate::tmux::{StartError, TmuxConfig, TmuxHost};
use clap::Args;
use std::path::PathBuf;

/// Logging for the host agent: like `paliadin_shared::telemetry::init` (`RUST_LOG`, default `info`;
/// JSON with `PALIADIN_LOG_JSON=1`) but without colours, and never panicking when stderr is
/// gone: stderr is the SSH channel's, which closes when the worker's connection drops — exactly
/// when a turn may still be finishing its delivery.
pub fn init_logging() {
    use tracing_subscriber::{EnvFilter, fmt};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("PALIADIN_LOG_JSON").is_ok_and(|v| v == "1" || v == "true");
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .log_internal_errors(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The host agent's settings: the tmux side of the worker's settings, for this host.
#[derive(Debug, Clone, Args)]
pub struct HostAgentConfig {
    /// Command started in a new session (default: `claude` if on PATH, else the demo agent).
    #[arg(long, env = "PALIADIN_AGENT_CMD")]
    pub agent_cmd: Option<String>,
    /// Where agents write reply files (default: a per-user runtime dir).
    #[arg(long, env = "PALIADIN_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,
    /// Working directory of new agent sessions (default: the host agent's, i.e. the home directory).
    #[arg(long, env = "PALIADIN_WORKDIR")]
    pub workdir: Option<PathBuf>,
    #[command(flatten)]
    pub launch: crate::tmux::launch::LaunchSettings,
    #[command(flatten)]
    pub limits: crate::tmux::capacity::LimitSettings,
    /// Stop an agent of this host after this many seconds without a turn (cleanly: its
    /// conversation resumes with the next turn); 0: never.
    #[arg(long, env = "PALIADIN_AGENT_IDLE_SECS", default_value_t = 900)]
    pub agent_idle_secs: u64,
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
    /// The tmux binary.
    #[arg(long, env = "PALIADIN_TMUX_BIN", default_value = "tmux")]
    pub tmux_bin: PathBuf,
    /// The prefix of the worker's session names: the host agent touches no other session.
    #[arg(long, env = "PALIADIN_SESSION_PREFIX", default_value = "paliadin")]
    pub session_prefix: String,
    /// Largest agent reply file of a turn, bytes; a larger one fails the turn `invalid_reply`.
    #[arg(long, env = "PALIADIN_MAX_REPLY_BYTES", default_value_t = crate::spool::DEFAULT_MAX_REPLY_BYTES)]
    pub max_reply_bytes: u64,
    /// One owner's own agent account (`accounts://` hosts, set by the worker): refuse to run as
    /// root or with a home directory others can enter; the spool defaults to
    /// `$HOME/.local/state/paliadin/spool` and the workdir to `$HOME`.
    #[arg(long)]
    pub private: bool,
}

/// Why the host agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum HostAgentError {
    #[error("the agent command {cmd:?} is unusable: {source}")]
    AgentCmd {
        cmd: String,
        source: crate::tmux::AgentCmdError,
    },
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Prefix(String),
    #[error("--private: {0}")]
    Private(String),
    #[error(transparent)]
    AgentEnv(#[from] crate::tmux::AgentEnvError),
    #[error("{0}")]
    Launch(String),
}

impl HostAgentConfig {
    /// The tmux configuration these settings describe, and how the agent command was chosen.
    pub fn tmux_config(&self) -> Result<(TmuxConfig, String), HostAgentError> {
        let (cmd, why) =
            crate::agent_cmd::resolve_for(self.agent_cmd.as_deref(), self.launch.agent.as_deref());
        let mut cfg =
            TmuxConfig::from_agent_cmd(&cmd).map_err(|source| HostAgentError::AgentCmd {
                cmd: cmd.clone(),
                source,
            })?;
        if self.private {
            let home = private_home()?;
            cfg.spool_dir = home.join(".local/state/paliadin/spool");
            cfg.workdir = home;
        }
        if let Some(dir) = &self.spool_dir {
            cfg.spool_dir = dir.clone();
        }
        if let Some(dir) = &self.workdir {
            cfg.workdir = dir.clone();
        }
        cfg.socket = self.tmux_socket.clone();
        cfg.agent_env = crate::tmux::AgentEnv::from_process(self.agent_env.as_deref())?;
        cfg.launch = self
            .launch
            .launch(cfg.agent_argv.first().map(String::as_str))
            .map_err(HostAgentError::Launch)?;
        cfg.control = self.tmux_control;
        cfg.tmux_bin = self.tmux_bin.clone();
        cfg.max_reply_bytes = self.max_reply_bytes;
        // An owner's own account runs its own tmux server: a host-wide limit cannot be
        // counted there (`docs/hosts.md`).
        cfg.max_live_agents = if self.private {
            None
        } else {
            self.limits.resolve()
        };
        // An owner's agents are counted on any server, their own account's too.
        cfg.max_live_agents_per_user = self.limits.per_user();
        Ok((cfg, format!("{cmd} ({why})")))
    }

    /// How long an agent may go without a turn; None: never stopped.
    pub fn agent_idle(&self) -> Option<std::time::Duration> {
        (self.agent_idle_secs > 0).then(|| std::time::Duration::from_secs(self.agent_idle_secs))
    }

    /// The validated session prefix.
    pub fn prefix(&self) -> Result<paliadin_shared::SessionPrefix, HostAgentError> {
        paliadin_shared::SessionPrefix::parse(&self.session_prefix)
            .map_err(|e| HostAgentError::Prefix(e.0))
    }

    /// Prepares the spool and its watcher: the host every request of this process drives.
    pub fn start(&self) -> Result<TmuxHost, HostAgentError> {
        let (cfg, agent) = self.tmux_config()?;
        tracing::info!(%agent, spool = %cfg.spool_dir.display(), socket = ?cfg.socket, agent_env = ?cfg.agent_env, "host agent configured");
        let host = TmuxHost::start(cfg)?;
        if let Ok(locks) = lock::dir(host.spool().root()) {
            lock::prune(&locks, std::time::Duration::from_secs(48 * 3600));
        }
        Ok(host)
    }
}

/// The home of this (agent) account, checked to be its own and closed to everyone else: the
/// agent's spool, workdir and Claude Code's transcripts live there.
fn private_home() -> Result<PathBuf, HostAgentError> {
    use std::os::unix::fs::MetadataExt;
    let uid = paliadin_shared::trust::current_uid()
        .map_err(|e| HostAgentError::Private(e.to_string()))?;
    if uid == 0 {
        return Err(HostAgentError::Private(
            "refusing to run agents as root".into(),
        ));
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
        .ok_or_else(|| HostAgentError::Private("HOME is not set to an absolute path".into()))?;
    let meta = std::fs::symlink_metadata(&home)
        .map_err(|e| HostAgentError::Private(format!("home {}: {e}", home.display())))?;
    if !meta.is_dir() || meta.uid() != uid {
        return Err(HostAgentError::Private(format!(
            "home {} is not a directory owned by this account (uid {uid})",
            home.display()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(HostAgentError::Private(format!(
            "home {} is open to group or others (mode {:o}): chmod 700 it",
            home.display(),
            meta.mode() & 0o7777
        )));
    }
    Ok(home)
}

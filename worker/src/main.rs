//! `paliadin-worker`: claims turns from the queues of the hosts it serves and drives the users'
//! agents in tmux. Serves the host `local` when no hosts are configured.

use anyhow::Context;
use clap::Parser;
use paliadin_shared::HostName;
use paliadin_worker::agent_cmd;
use paliadin_worker::config::RuntimeConfig;
use paliadin_worker::driver::local::{LocalConfig, LocalDriver};
use paliadin_worker::runtime::{ServedHost, Worker};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "paliadin-worker", version, about = "Paliadin worker: claims turns and drives agents in tmux")]
struct Cli {
    /// PostgreSQL connection string.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    #[command(flatten)]
    runtime: RuntimeConfig,
    /// Command started in a new session (default: `claude` if on PATH, else the demo agent).
    #[arg(long, env = "PALIADIN_AGENT_CMD")]
    agent_cmd: Option<String>,
    /// Where agents write reply files (default: a per-user runtime dir).
    #[arg(long, env = "PALIADIN_SPOOL_DIR")]
    spool_dir: Option<PathBuf>,
    /// Working directory of new agent sessions (default: the worker's).
    #[arg(long, env = "PALIADIN_WORKDIR")]
    workdir: Option<PathBuf>,
    /// A private tmux server socket name (`tmux -L`); default: the user's server.
    #[arg(long, env = "PALIADIN_TMUX_SOCKET")]
    tmux_socket: Option<String>,
    /// The name of the local host (its queue is `turns_<name>`).
    #[arg(long, env = "PALIADIN_LOCAL_HOST", default_value = "local")]
    local_host: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    paliadin_shared::telemetry::init();
    let cli = Cli::parse();
    let (cmd, why) = agent_cmd::resolve(cli.agent_cmd.as_deref());
    let mut config = LocalConfig::from_agent_cmd(&cmd).with_context(|| format!("agent command {cmd:?}"))?;
    if let Some(dir) = cli.spool_dir {
        config.spool_dir = dir;
    }
    if let Some(dir) = cli.workdir {
        config.workdir = dir;
    }
    config.socket = cli.tmux_socket;
    tracing::info!(agent = %cmd, chosen_by = why, spool = %config.spool_dir.display(), "agent configured");
    let driver = Arc::new(LocalDriver::new(config).context("cannot prepare the local tmux driver")?);
    let pool = paliadin_shared::db::connect(&cli.database_url, (cli.runtime.concurrency as u32) * 2 + 4).await?;
    paliadin_shared::db::ensure_migrated(&pool).await?;
    let host = HostName::parse(&cli.local_host)?;
    let hosts = vec![ServedHost { name: host, address: "local".into() }];
    let worker = Worker::new(pool, driver, cli.runtime, hosts).await?;
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down: no new claims; in-flight turns get the grace period");
        signal.cancel();
    });
    worker.run(shutdown).await
}

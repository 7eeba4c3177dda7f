//! `paliadin-worker`: claims turns from the queues of the hosts it serves and drives the users'
//! agents in tmux — on this machine, or on remote hosts over SSH (`PALIADIN_HOSTS`, see
//! `docs/hosts.md`). Serves the host `local` when no hosts are configured.

use anyhow::Context;
use clap::Parser;
use paliadin_worker::accounts::HostAgentSettings;
use paliadin_worker::agent_cmd;
use paliadin_worker::cli::{Cli, Cmd};
use paliadin_worker::driver::Driver;
use paliadin_worker::driver::accounts::AccountsDriver;
use paliadin_worker::driver::local::{LocalConfig, LocalDriver};
use paliadin_worker::driver::ssh::SshDriver;
use paliadin_worker::hosts::drain::{self, Draining};
use paliadin_worker::hosts::{self, Address};
use paliadin_worker::runtime::{ServedHost, Worker};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    paliadin_shared::telemetry::init();
    let cli = Cli::parse();
    if let Some(Cmd::TmuxSocket) = cli.cmd {
        let socket = paliadin_worker::tmux::Socket::resolve(cli.tmux_socket.as_deref());
        println!("{socket}");
        return Ok(());
    }
    if let Some(Cmd::Doctor) = cli.cmd {
        let report = paliadin_worker::doctor::run(&cli).await;
        print!("{}", report.render());
        std::process::exit(i32::from(report.failed()));
    }
    let specs = hosts::parse(cli.hosts.hosts.as_deref(), &cli.local_host)?;
    let draining = cli.hosts.draining(&specs)?;
    let (cmd, why) = agent_cmd::resolve(cli.agent_cmd.as_deref());
    let mut config =
        LocalConfig::from_agent_cmd(&cmd).with_context(|| format!("agent command {cmd:?}"))?;
    if let Some(dir) = cli.spool_dir {
        config.spool_dir = dir;
    }
    if let Some(dir) = cli.workdir {
        config.workdir = dir;
    }
    config.socket = cli.tmux_socket;
    config.agent_env = paliadin_worker::tmux::AgentEnv::from_process(cli.agent_env.as_deref())?;
    config.launch = cli
        .launch
        .launch(config.agent_argv.first().map(String::as_str))
        .map_err(anyhow::Error::msg)?;
    config.control = cli.tmux_control;
    config.max_reply_bytes = cli.max_reply_bytes;
    config.max_live_agents = cli.limits.resolve();
    config.max_live_agents_per_user = cli.limits.per_user();
    let mut served = Vec::new();
    for spec in &specs {
        let driver: Arc<dyn Driver> = match &spec.address {
            Address::Local => {
                tracing::info!(host = %spec.name, agent = %cmd, chosen_by = why, spool = %config.spool_dir.display(),
                    tmux_socket = %paliadin_worker::tmux::Socket::resolve(config.socket.as_deref()),
                    agent_env = ?config.agent_env, agent_kind = config.launch.kind.as_str(),
                    resumes = config.launch.can_resume(), max_live_agents = ?config.max_live_agents,
                    "local host: agent configured");
                Arc::new(
                    LocalDriver::for_host(config.clone(), spec.name.as_str())
                        .context("cannot prepare the local tmux driver")?,
                )
            }
            Address::Ssh(target) => {
                tracing::info!(host = %spec.name, address = %target.display(), "remote host over SSH");
                Arc::new(SshDriver::new(
                    spec.name.as_str(),
                    target.clone(),
                    cli.hosts.link_options(),
                ))
            }
            Address::Accounts(target) => {
                tracing::info!(host = %spec.name, map = %target.map.display(), host_agent = %target.host_agent.display(), "this machine, one agent account per owner");
                let settings = HostAgentSettings {
                    session_prefix: cli.runtime.session_prefix.clone(),
                    max_reply_bytes: cli.max_reply_bytes,
                    agent_cmd: cli.agent_cmd.clone().filter(|c| !c.trim().is_empty()),
                    launch: cli.launch.clone(),
                };
                Arc::new(AccountsDriver::new(
                    spec.name.as_str(),
                    target.clone(),
                    settings,
                    cli.hosts.link_options(),
                ))
            }
        };
        let driver: Arc<dyn Driver> = if draining.contains(&spec.name) {
            tracing::info!(host = %spec.name, "draining: no new users; idle users move off");
            Arc::new(Draining(driver))
        } else {
            driver
        };
        served.push((
            ServedHost {
                name: spec.name.clone(),
                address: spec.display(),
            },
            driver,
        ));
    }
    let pool =
        paliadin_shared::db::connect(&cli.database_url, (cli.runtime.concurrency as u32) * 2 + 4)
            .await?;
    paliadin_shared::db::ensure_migrated(&pool).await?;
    let worker = Worker::with_drivers(pool.clone(), cli.runtime, served).await?;
    let shutdown = CancellationToken::new();
    if !draining.is_empty() {
        tokio::spawn(drain::run(
            pool,
            draining,
            std::time::Duration::from_secs(10),
            shutdown.clone(),
        ));
    }
    if let Some(addr) = cli.metrics_bind {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (PALIADIN_WORKER_METRICS_BIND)"))?;
        tracing::info!(addr = %listener.local_addr()?, "metrics listening");
        let (metrics, stop) = (worker.metrics(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = paliadin_worker::metrics::serve(listener, metrics, stop).await {
                tracing::error!(error = %e, "metrics listener failed");
            }
        });
    }
    let signal = shutdown.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down: no new claims; in-flight turns get the grace period");
        signal.cancel();
    });
    worker.run(shutdown).await
}

//! `paliadin-shim serve`: the host agent workers reach over SSH (see `docs/hosts.md`).
//!
//! Install it on a tmux host and force it in `authorized_keys`:
//! `restrict,command="/usr/local/bin/paliadin-shim serve" ssh-ed25519 AAAA… paliadin-worker`.
//! It reads JSON-lines requests on stdin and answers on stdout; logs go to stderr (which SSH
//! carries back to the worker's log).

use clap::Parser;
use paliadin_worker::host_agent::cli::{Cli, Command};
use paliadin_worker::host_agent::server;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    paliadin_worker::host_agent::init_logging();
    let Command::Serve(config) = Cli::parse().command;
    let prefix = config.prefix()?;
    let host = Arc::new(config.start()?);
    let stop = CancellationToken::new();
    if let Some(idle) = config.agent_idle() {
        tokio::spawn(sweep(host.clone(), idle, stop.clone()));
    }
    let signal = stop.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal as on};
        let (mut term, mut hup) = match (on(SignalKind::terminate()), on(SignalKind::hangup())) {
            (Ok(t), Ok(h)) => (t, h),
            _ => return,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        tracing::info!("signal: detaching turns and exiting");
        signal.cancel();
    });
    server::serve(
        host.clone(),
        prefix,
        tokio::io::stdin(),
        tokio::io::stdout(),
        stop,
    )
    .await;
    host.close().await;
    Ok(())
}

/// Stops this host's agents idle for `idle`, every minute (every half the limit when it is
/// shorter), while the connection lasts: as the worker does for its local hosts.
async fn sweep(
    host: Arc<paliadin_worker::tmux::TmuxHost>,
    idle: std::time::Duration,
    stop: CancellationToken,
) {
    let every = (idle / 2).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(60),
    );
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {
                host.stop_idle(idle).await;
            }
        }
    }
}

//! `paliadin-api`: `serve`, `migrate`, `doctor`, and `user …` administration.

use anyhow::Context;
use clap::Parser;
use paliadin_api::cli::{Cli, Cmd, UserCmd};
use paliadin_api::config::ApiConfig;
use paliadin_api::state::AppState;
use paliadin_shared::db::{self, users};
use paliadin_shared::secret;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    paliadin_shared::telemetry::init();
    let cli = Cli::parse();
    let url = cli.database_url;
    let need_url = || {
        url.clone()
            .context("DATABASE_URL (or --database-url) is required")
    };
    match cli.cmd {
        Cmd::Doctor => {
            let report = paliadin_api::doctor::run(url.as_deref()).await;
            print!("{}", report.render());
            std::process::exit(i32::from(report.failed()));
        }
        Cmd::Migrate => {
            let pool = db::connect(&need_url()?, 4).await?;
            db::migrate(&pool).await?;
            println!("database migrated");
        }
        Cmd::Serve(config) => serve(&need_url()?, config).await?,
        Cmd::User(cmd) => user(&need_url()?, cmd).await?,
    }
    Ok(())
}

async fn serve(url: &str, config: ApiConfig) -> anyhow::Result<()> {
    config.validate().map_err(anyhow::Error::msg)?;
    let pool = db::connect(url, config.db_pool).await?;
    db::ensure_migrated(&pool).await?;
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    tracing::info!(addr = %listener.local_addr()?, "paliadin-api listening");
    let metrics_listener = match config.metrics_bind {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (PALIADIN_METRICS_BIND)"))?,
        ),
        None => None,
    };
    let state = AppState::new(pool, config, shutdown.clone()).await?;
    if let Some(l) = metrics_listener {
        tracing::info!(addr = %l.local_addr()?, "metrics listening");
        let (st, stop) = (state.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = paliadin_api::metrics::serve(l, st, stop).await {
                tracing::error!(error = %e, "metrics listener failed");
            }
        });
    }
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: no new connections, streams end");
        signal.cancel();
    });
    let server = paliadin_api::serve(listener, state, shutdown.clone());
    // Bounded: connections still open PALIADIN_SHUTDOWN_GRACE_SECS after the signal are dropped.
    server.await.context("server error")
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

async fn user(url: &str, cmd: UserCmd) -> anyhow::Result<()> {
    let pool = db::connect(url, 2).await?;
    db::ensure_migrated(&pool).await?;
    match cmd {
        UserCmd::Add { email, role } => {
            let role = users::Role::parse(&role).context("role must be owner or admin")?;
            let token = secret::new_token();
            let user = users::create(&pool, email.trim(), role, &secret::hash(&token))
                .await
                .with_context(|| format!("cannot create user {email} (does it exist already?)"))?;
            println!("created {} {} ({})", user.role, user.email, user.id);
            println!("fingerprint {}", users::fingerprint(&secret::hash(&token)));
            println!("{token}");
        }
        UserCmd::Token { email } => {
            let token = secret::new_token();
            anyhow::ensure!(
                users::add_token(&pool, &email, &secret::hash(&token)).await?,
                "no user {email}"
            );
            println!("fingerprint {}", users::fingerprint(&secret::hash(&token)));
            println!("{token}");
        }
        UserCmd::Tokens { email } => {
            for t in users::tokens(&pool, &email).await? {
                let state = match t.revoked_at {
                    None => "active".to_owned(),
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                };
                println!("{}\t{}\t{state}", t.fingerprint, t.created_at.to_rfc3339());
            }
        }
        UserCmd::RevokeToken { email, fingerprint } => {
            let n = users::revoke_token(&pool, &email, &fingerprint).await?;
            anyhow::ensure!(n > 0, "no active token {fingerprint} of {email}");
            println!("revoked {fingerprint} of {email}");
        }
        UserCmd::List => {
            for u in users::list(&pool).await? {
                let state = if u.disabled { "disabled" } else { "active" };
                println!("{}\t{}\t{}\t{}", u.id, u.email, u.role, state);
            }
        }
        UserCmd::Disable { email } => {
            anyhow::ensure!(
                users::set_disabled(&pool, &email, true).await?,
                "no user {email}"
            );
            println!("disabled {email}");
        }
        UserCmd::Enable { email } => {
            anyhow::ensure!(
                users::set_disabled(&pool, &email, false).await?,
                "no user {email}"
            );
            println!("enabled {email}");
        }
    }
    Ok(())
}

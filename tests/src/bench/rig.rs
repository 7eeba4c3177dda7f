//! The system under test, as processes: a fresh database on the given server, one
//! `paliadin-api`, N `paliadin-worker`s driving demo agents in a private tmux server, and users
//! with bearer tokens.

use crate::db::TestDb;
use crate::http::{Client, user};
use crate::procs::{TmuxRig, binary};
use paliadin_shared::db::users::Role;
use std::process::Stdio;
use tokio::process::{Child, Command};

pub struct Rig {
    pub base: String,
    pub api: Child,
    /// Kept so the workers live as long as the rig.
    pub workers: Vec<Child>,
    pub tmux: TmuxRig,
    pub db: TestDb,
    /// One HTTP client (and connection pool) shared by every simulated user.
    pub http: reqwest::Client,
}

impl Rig {
    pub async fn start(workers: usize, concurrency: Option<usize>) -> anyhow::Result<Rig> {
        let db = TestDb::new().await;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let api = Command::new(binary("paliadin-api"))
            .arg("serve")
            .env("DATABASE_URL", &db.url)
            .env("PALIADIN_BIND", format!("127.0.0.1:{port}"))
            .env("PALIADIN_MAX_QUEUED_PER_USER", "100000")
            // The fan-out phase holds up to 10,000 streams of one user on one process; the
            // production defaults (16 streams per user, 1,024 connections) would refuse them.
            .env("PALIADIN_MAX_STREAMS_PER_USER", "10000")
            .env("PALIADIN_MAX_CONNECTIONS", "100000")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let base = format!("http://127.0.0.1:{port}");
        // Idle connections are dropped before the API closes them (its header timeout, 15 s
        // by default): a phase after a pause (e.g. graphile's) must not reuse a connection the
        // server is closing at that moment (`IncompleteMessage`).
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(4096)
            .pool_idle_timeout(std::time::Duration::from_secs(5))
            .build()?;
        crate::wait_until(30, "the API answers /readyz", || {
            let (http, url) = (http.clone(), format!("{base}/readyz"));
            async move {
                http.get(url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await;
        let tmux = TmuxRig::new();
        let conc = concurrency.map(|c| c.to_string());
        let env: Vec<(&str, &str)> = conc
            .as_deref()
            .map(|c| vec![("PALIADIN_CONCURRENCY", c)])
            .unwrap_or_default();
        let workers = (0..workers)
            .map(|i| tmux.worker_with(&db.url, &format!("bench-w{i}"), &env))
            .collect();
        Ok(Rig {
            base,
            api,
            workers,
            tmux,
            db,
            http,
        })
    }

    /// `n` owners, each with a client.
    pub async fn users(&self, prefix: &str, n: usize) -> Vec<Client> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let (_, token) = user(&self.db, &format!("{prefix}{i}@bench"), Role::Owner).await;
            out.push(Client {
                base: self.base.clone(),
                token: Some(token),
                http: self.http.clone(),
            });
        }
        out
    }

    /// The processes whose CPU time [`super::cpu`] accounts, as they are now.
    pub async fn pids(&self) -> super::cpu::Pids {
        let server = std::process::Command::new("tmux")
            .args(["-L", &self.tmux.socket, "display-message", "-p", "#{pid}"])
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok());
        let backends: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()",
        )
        .fetch_all(&self.db.pool)
        .await
        .unwrap_or_default();
        super::cpu::Pids {
            api: self.api.id().unwrap_or(0),
            workers: self.workers.iter().filter_map(Child::id).collect(),
            tmux_server: server,
            backends: backends.into_iter().map(|p| p as u32).collect(),
        }
    }

    /// The API process's resident set, in KiB.
    pub fn api_rss_kib(&self) -> u64 {
        let Some(pid) = self.api.id() else { return 0 };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }
}

//! The fleet under test, as processes: a fresh database, one `paliadin-api`, `hosts` tmux hosts
//! (each a real sshd on loopback whose key forces the host agent, `paliadin-shim serve`, with
//! the demo agent on the host's own tmux server: [`crate::sshd::SshHost`]) and `workers`
//! `paliadin-worker` processes with the production defaults (lease, poll, keep-alive), each
//! serving its share of the hosts over one persistent SSH channel per host. Every owner is
//! pinned to a host round-robin before the first turn, as routing spreads new owners.

use crate::db::TestDb;
use crate::http::Client;
use crate::procs::{TmuxRig, binary};
use crate::sshd::SshHost;
use anyhow::Context;
use paliadin_shared::db::users::Role;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// One configuration's size.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub owners: usize,
    pub hosts: usize,
    pub workers: usize,
    /// Workers that serve each host.
    pub replicas: usize,
    pub concurrency: usize,
    /// `PALIADIN_MAX_LIVE_AGENTS` of the host agents (None: their default).
    pub max_live_agents: Option<u32>,
}

pub struct FleetRig {
    pub size: Size,
    pub base: String,
    pub api: Child,
    /// `(worker id, process)`.
    pub workers: Vec<(String, Child)>,
    pub hosts: Vec<SshHost>,
    /// Owners' clients; owner `i` is pinned to host `i % hosts`.
    pub owners: Vec<Client>,
    pub db: TestDb,
    /// Where the workers' logs go (removed on drop).
    logs: std::path::PathBuf,
}

/// Host `i`'s name (`PALIADIN_HOSTS`, queue `turns_<name>`).
pub fn host_name(i: usize) -> String {
    format!("fh{i}")
}

impl FleetRig {
    pub async fn start(size: Size) -> anyhow::Result<FleetRig> {
        let db = TestDb::new().await;
        let logs = std::env::temp_dir().join(format!("paliadin-fleet-{}", db.name));
        std::fs::create_dir_all(&logs)?;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let api = Command::new(binary("paliadin-api"))
            .arg("serve")
            .env("DATABASE_URL", &db.url)
            .env("PALIADIN_BIND", format!("127.0.0.1:{port}"))
            // Every owner's turn is a stream while it runs; the whole fleet's at once at most.
            .env("PALIADIN_MAX_CONNECTIONS", "100000")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stderr(log(&logs.join("api.log")))
            .kill_on_drop(true)
            .spawn()?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(4096)
            .pool_idle_timeout(Duration::from_secs(5))
            .build()?;
        let ready = {
            let (http, url) = (http.clone(), format!("{base}/readyz"));
            move || {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    http.get(url)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
            }
        };
        wait(30, "the API answers /readyz", ready).await?;

        // Hosts: one sshd each, started side by side (key generation and the listen wait
        // block).
        let mut starting = Vec::new();
        for i in 0..size.hosts {
            let max = size.max_live_agents;
            starting.push(tokio::task::spawn_blocking(move || {
                let rig = TmuxRig::new();
                let state = rig.spool.parent().map(|d| d.join("demo-state"));
                let mut env = vec![(
                    "PALIADIN_DEMO_STATE_DIR",
                    state.unwrap_or_default().display().to_string(),
                )];
                if let Some(m) = max {
                    env.push(("PALIADIN_MAX_LIVE_AGENTS", m.to_string()));
                }
                SshHost::start_on(rig, &host_name(i), &env)
            }));
        }
        let mut hosts = Vec::with_capacity(size.hosts);
        for s in starting {
            hosts.push(s.await.context("start an sshd")?);
        }

        // Owners with a token each, pinned round-robin (what `pin_host` does for a new owner,
        // done up front so that idle owners count on their host as they would in a fleet that
        // has run a while): the rows `users::create` and `pin_host` write, in one transaction
        // (a thousand commits took half a minute on a busy box).
        let mut owners = Vec::with_capacity(size.owners);
        let (mut ids, mut emails, mut hashes, mut pins) = (vec![], vec![], vec![], vec![]);
        for i in 0..size.owners {
            let token = paliadin_shared::secret::new_token();
            ids.push(uuid::Uuid::new_v4());
            emails.push(format!("o{i}@fleet"));
            hashes.push(paliadin_shared::secret::hash(&token));
            pins.push(host_name(i % size.hosts));
            owners.push(Client {
                base: base.clone(),
                token: Some(token),
                http: http.clone(),
            });
        }
        let mut tx = db.pool.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, email, role) SELECT id, email, $3 FROM unnest($1::uuid[], $2::text[]) AS u(id, email)",
        )
        .bind(&ids)
        .bind(&emails)
        .bind(Role::Owner.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO api_tokens (token_hash, user_id) SELECT * FROM unnest($1::bytea[], $2::uuid[])")
            .bind(&hashes)
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO agent_sessions (user_id, host) SELECT * FROM unnest($1::uuid[], $2::text[])",
        )
        .bind(&ids)
        .bind(&pins)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;

        let mut workers = Vec::with_capacity(size.workers);
        for w in 0..size.workers {
            let served: Vec<String> = hosts
                .iter()
                .enumerate()
                .filter(|(h, _)| serves(size, w, *h))
                .map(|(_, host)| host.entry())
                .collect();
            let id = format!("fleet-w{w}");
            let mut cmd = Command::new(binary("paliadin-worker"));
            cmd.env("DATABASE_URL", &db.url)
                .env("PALIADIN_HOSTS", served.join(","))
                .env("PALIADIN_WORKER_ID", &id)
                .env("PALIADIN_CONCURRENCY", size.concurrency.to_string())
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stderr(log(&logs.join(format!("{id}.log"))))
                .kill_on_drop(true);
            workers.push((id, cmd.spawn().context("spawn paliadin-worker")?));
        }
        let rig = FleetRig {
            size,
            base,
            api,
            workers,
            hosts,
            owners,
            db,
            logs,
        };
        let n = size.hosts as i64;
        let pool = rig.db.pool.clone();
        wait(60, "every host reachable", move || {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM hosts WHERE reachable")
                    .fetch_one(&pool)
                    .await
                    .is_ok_and(|c| c == n)
            }
        })
        .await?;
        // Every worker's channel to every host it serves is up (reachability is written by
        // the first worker to connect).
        let want = size.hosts * size.replicas;
        let deadline = Instant::now() + Duration::from_secs(60);
        while rig.ssh_channels().0 < want {
            anyhow::ensure!(
                Instant::now() < deadline,
                "only {} of {want} SSH channels came up",
                rig.ssh_channels().0
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(rig)
    }

    /// Worker process ids, in order.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().filter_map(|(_, c)| c.id()).collect()
    }

    /// `(ssh client processes of the workers, sshd connections on the hosts)`: one each per
    /// channel.
    pub fn ssh_channels(&self) -> (usize, usize) {
        let clients = self
            .worker_pids()
            .into_iter()
            .map(|w| crate::sshd::children_named(w, "ssh").len())
            .sum();
        let sessions = self.hosts.iter().map(|h| h.session_pids().len()).sum();
        (clients, sessions)
    }

    /// Live agents: owners' tmux sessions (`paliadin-…`; not the control client's hidden one)
    /// on every host's server.
    pub fn live_agents(&self) -> Agents {
        let per: Vec<usize> = self
            .hosts
            .iter()
            .map(|h| {
                std::process::Command::new("tmux")
                    .args([
                        "-L",
                        &h.rig.socket,
                        "list-sessions",
                        "-F",
                        "#{session_name}",
                    ])
                    .stderr(Stdio::null())
                    .output()
                    .map(|o| {
                        String::from_utf8_lossy(&o.stdout)
                            .lines()
                            .filter(|l| l.starts_with("paliadin-"))
                            .count()
                    })
                    .unwrap_or(0)
            })
            .collect();
        Agents(per)
    }

    /// The tmux server of each host, where it runs.
    pub fn tmux_servers(&self) -> Vec<u32> {
        self.hosts
            .iter()
            .filter_map(|h| {
                let o = std::process::Command::new("tmux")
                    .args(["-L", &h.rig.socket, "display-message", "-p", "#{pid}"])
                    .stderr(Stdio::null())
                    .output()
                    .ok()?;
                String::from_utf8_lossy(&o.stdout).trim().parse().ok()
            })
            .collect()
    }

    /// The owner's host (pinned round-robin).
    pub fn host_of(&self, owner: usize) -> &SshHost {
        &self.hosts[owner % self.hosts.len()]
    }

    /// Stops every process. The database stays, as the whole-system bench leaves its own (a
    /// `DROP DATABASE` waits for a checkpoint: up to a minute on a busy shared server); test
    /// databases over two hours old are dropped by the next run.
    pub async fn stop(self) {
        let FleetRig {
            api,
            workers,
            hosts,
            db,
            logs,
            ..
        } = self;
        drop(workers);
        drop(api);
        // sshd, its sessions and host agents; then each host's tmux server (its TmuxRig).
        let _ = tokio::task::spawn_blocking(move || drop(hosts)).await;
        let _ = std::fs::remove_dir_all(&logs);
        db.pool.close().await;
    }
}

/// Live agents on each host.
pub struct Agents(pub Vec<usize>);

impl std::fmt::Display for Agents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (lo, hi) = (self.0.iter().min(), self.0.iter().max());
        let total: usize = self.0.iter().sum();
        match (lo, hi) {
            (Some(lo), Some(hi)) => write!(f, "{total} ({lo}–{hi} per host)"),
            _ => write!(f, "{total}"),
        }
    }
}

/// Whether worker `w` serves host `h`: hosts are dealt to `replicas` consecutive workers,
/// starting at a different worker for each host.
pub fn serves(size: Size, w: usize, h: usize) -> bool {
    (0..size.replicas).any(|k| (h + k) % size.workers == w)
}

fn log(path: &std::path::Path) -> Stdio {
    std::fs::File::create(path).map_or_else(|_| Stdio::null(), Stdio::from)
}

/// Polls `cond` every 50 ms for up to `secs`.
async fn wait<F, Fut>(secs: u64, what: &str, mut cond: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond().await {
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_host_is_served_by_its_replicas() {
        let size = |replicas| Size {
            owners: 1,
            hosts: 5,
            workers: 4,
            replicas,
            concurrency: 8,
            max_live_agents: None,
        };
        for h in 0..5 {
            let n = |r| (0..4).filter(|&w| serves(size(r), w, h)).count();
            assert_eq!((n(1), n(2), n(4)), (1, 2, 4), "host {h}");
        }
        // One replica: the hosts are dealt round-robin.
        let one: Vec<usize> = (0..5)
            .map(|h| (0..4).find(|&w| serves(size(1), w, h)).unwrap())
            .collect();
        assert_eq!(one, [0, 1, 2, 3, 0]);
    }
}

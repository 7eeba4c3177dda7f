//! What the fleet costs, read from `/proc` and PostgreSQL: CPU seconds by part (one scan of
//! `/proc` per snapshot; a process is counted with the children it has reaped), PostgreSQL
//! connections per process (its TCP sockets to the server's port, from `/proc/<pid>/fd` and
//! `/proc/net/tcp*`), and a sampler that keeps the peaks while a phase runs.

use super::rig::FleetRig;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;

/// The parts CPU time is split into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    Api,
    Workers,
    /// The workers' `ssh` client processes (one per channel).
    SshClients,
    /// Every host's sshd: its listener, the connections and the host agents under them
    /// (with their tmux control clients).
    HostAgents,
    /// Every host's tmux server.
    TmuxServers,
    /// The agents in the panes (the demo agent) and anything under them.
    Agents,
    /// This database's backends.
    Postgres,
    /// The load client (this process).
    Bench,
}

impl Part {
    pub const ALL: [Part; 8] = [
        Part::Api,
        Part::Workers,
        Part::SshClients,
        Part::HostAgents,
        Part::TmuxServers,
        Part::Agents,
        Part::Postgres,
        Part::Bench,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Part::Api => "API",
            Part::Workers => "workers",
            Part::SshClients => "ssh clients (workers' children)",
            Part::HostAgents => "sshd + host agents",
            Part::TmuxServers => "tmux servers",
            Part::Agents => "agents",
            Part::Postgres => "PostgreSQL backends",
            Part::Bench => "bench client",
        }
    }
}

/// One process as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone)]
pub struct Proc {
    pub ppid: u32,
    pub comm: String,
    /// CPU seconds of its own (user + system).
    pub own: f64,
    /// CPU seconds of the children it has waited for.
    pub reaped: f64,
    pub rss_kib: u64,
}

/// Every process now, by pid.
pub fn processes() -> HashMap<u32, Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((
                pid,
                parse_stat(&std::fs::read_to_string(e.path().join("stat")).ok()?)?,
            ))
        })
        .collect()
}

fn parse_stat(s: &str) -> Option<Proc> {
    let (head, tail) = s.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_owned();
    let f: Vec<&str> = tail.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // After the `)`: state is field 0, ppid 1, utime 11, stime 12, cutime 13, cstime 14, rss 21.
    Some(Proc {
        ppid: f.get(1)?.parse().ok()?,
        comm,
        own: (n(11) + n(12)) / ticks(),
        reaped: (n(13) + n(14)) / ticks(),
        rss_kib: (n(21) as u64) * 4,
    })
}

/// Clock ticks per second of `/proc` times (100 on Linux).
fn ticks() -> f64 {
    100.0
}

/// `root` and everything under it.
pub fn tree(all: &HashMap<u32, Proc>, root: u32) -> Vec<u32> {
    let mut kids: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pid, p) in all {
        kids.entry(p.ppid).or_default().push(pid);
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(k) = kids.get(&out[i]) {
            out.extend(k);
        }
        i += 1;
    }
    out.retain(|p| all.contains_key(p));
    out
}

/// CPU seconds by part and process at one moment.
#[derive(Default, Clone)]
pub struct Snapshot(HashMap<(Part, u32), f64>);

impl Snapshot {
    /// CPU seconds by part spent since `before` (a process that started since counts whole; one
    /// that ended and was reaped by a process outside the parts is lost).
    pub fn since(&self, before: &Snapshot) -> HashMap<Part, f64> {
        let mut out = HashMap::new();
        for (key, after) in &self.0 {
            let spent = after - before.0.get(key).copied().unwrap_or(0.0);
            *out.entry(key.0).or_insert(0.0) += spent.max(0.0);
        }
        out
    }
}

/// Takes a CPU snapshot of every part of the fleet.
pub async fn snapshot(rig: &FleetRig) -> Snapshot {
    let backends: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            .fetch_all(&rig.db.pool)
            .await
            .unwrap_or_default();
    let tmux = rig.tmux_servers();
    let sshd_sessions: Vec<u32> = rig.hosts.iter().flat_map(|h| h.session_pids()).collect();
    let api = rig.api.id();
    let workers = rig.worker_pids();
    tokio::task::spawn_blocking(move || {
        let all = processes();
        let mut m = HashMap::new();
        let mut add = |part: Part, pid: u32, secs: f64| {
            *m.entry((part, pid)).or_insert(0.0) += secs;
        };
        let whole = |p: &Proc| p.own + p.reaped;
        if let Some(p) = api.and_then(|a| all.get(&a)) {
            add(Part::Api, api.unwrap_or(0), p.own);
        }
        for w in &workers {
            let Some(p) = all.get(w) else { continue };
            add(Part::Workers, *w, p.own);
            // Exited children: ssh clients that reconnected (or a tmux process).
            add(Part::SshClients, *w, p.reaped);
            for c in tree(&all, *w).into_iter().skip(1) {
                add(Part::SshClients, c, all[&c].own + all[&c].reaped);
            }
        }
        let listeners: HashSet<u32> = sshd_sessions
            .iter()
            .filter_map(|s| all.get(s).map(|p| p.ppid))
            .collect();
        for l in listeners {
            for pid in tree(&all, l) {
                add(Part::HostAgents, pid, whole(&all[&pid]));
            }
        }
        for t in tmux {
            let Some(server) = all.get(&t) else { continue };
            add(Part::TmuxServers, t, whole(server));
            for pid in tree(&all, t).into_iter().skip(1) {
                add(Part::Agents, pid, whole(&all[&pid]));
            }
        }
        for b in backends {
            if let Some(p) = all.get(&(b as u32)) {
                add(Part::Postgres, b as u32, p.own);
            }
        }
        let me = std::process::id();
        if let Some(p) = all.get(&me) {
            add(Part::Bench, me, p.own);
        }
        Snapshot(m)
    })
    .await
    .unwrap_or_default()
}

/// The server port of the database URL (5432 when none is given).
pub fn pg_port(url: &str) -> u16 {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let hostport = rest.split(['/', '?']).next().unwrap_or("");
    let hostport = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
    hostport
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(5432)
}

/// Established TCP connections to `port`, by socket inode (IPv4 and IPv6).
fn sockets_to(port: u16) -> HashSet<u64> {
    let mut out = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl, local, remote, state, tx:rx, tr:when, retrnsmt, uid, timeout, inode
            let (Some(remote), Some(state), Some(inode)) = (f.get(2), f.get(3), f.get(9)) else {
                continue;
            };
            let rport = remote
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if rport == Some(port) && *state == "01" {
                out.extend(inode.parse::<u64>().ok());
            }
        }
    }
    out
}

/// How many of `pid`'s open sockets are in `socks`.
fn count_fds(pid: u32, socks: &HashSet<u64>) -> usize {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| {
            let link = std::fs::read_link(e.path()).ok()?;
            let s = link.to_str()?;
            s.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse::<u64>()
                .ok()
        })
        .filter(|i| socks.contains(i))
        .count()
}

/// Peaks seen by the [`Sampler`] (and the last sample).
#[derive(Default, Clone, Debug)]
pub struct Peaks {
    /// Connections to this database in `pg_stat_activity` (the bench's own included).
    pub db_total: i64,
    pub api: usize,
    /// Per worker, in order.
    pub workers: Vec<usize>,
    /// Turns `running` at once (holding a worker slot; a permission wait included).
    pub running: i64,
    pub queued: i64,
    /// Workers' resident set, KiB, the largest.
    pub worker_rss_kib: u64,
    pub samples: usize,
}

/// Samples connections and running turns once a second until stopped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    peaks: Arc<Mutex<Peaks>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    pub fn start(rig: &FleetRig) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks = Arc::new(Mutex::new(Peaks {
            workers: vec![0; rig.workers.len()],
            ..Peaks::default()
        }));
        let pool = rig.db.pool.clone();
        let port = pg_port(&rig.db.url);
        let api = rig.api.id();
        let workers = rig.worker_pids();
        let (s, p) = (stop.clone(), peaks.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::SeqCst) {
                let db: (i64, i64, i64) = sqlx::query_as(
                    "SELECT (SELECT count(*) FROM pg_stat_activity
                              WHERE datname = current_database()),
                            count(*) FILTER (WHERE state = 'running'),
                            count(*) FILTER (WHERE state = 'queued')
                       FROM turns WHERE state IN ('queued', 'running')",
                )
                .fetch_one(&pool)
                .await
                .unwrap_or((0, 0, 0));
                let ws = workers.clone();
                let (api_n, per, rss) = tokio::task::spawn_blocking(move || {
                    let socks = sockets_to(port);
                    let per: Vec<usize> = ws.iter().map(|w| count_fds(*w, &socks)).collect();
                    let rss = ws
                        .iter()
                        .filter_map(|w| {
                            let s = std::fs::read_to_string(format!("/proc/{w}/stat")).ok()?;
                            Some(parse_stat(&s)?.rss_kib)
                        })
                        .max()
                        .unwrap_or(0);
                    (api.map_or(0, |a| count_fds(a, &socks)), per, rss)
                })
                .await
                .unwrap_or_default();
                {
                    let mut pk = p.lock().await;
                    pk.db_total = pk.db_total.max(db.0);
                    pk.running = pk.running.max(db.1);
                    pk.queued = pk.queued.max(db.2);
                    pk.api = pk.api.max(api_n);
                    for (peak, now) in pk.workers.iter_mut().zip(per) {
                        *peak = (*peak).max(now);
                    }
                    pk.worker_rss_kib = pk.worker_rss_kib.max(rss);
                    pk.samples += 1;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Sampler { stop, peaks, task }
    }

    /// Stops sampling; returns the peaks.
    pub async fn finish(self) -> Peaks {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
        self.peaks.lock().await.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_read_from_the_url() {
        assert_eq!(pg_port("postgres://postgres@127.0.0.1:5432/postgres"), 5432);
        assert_eq!(
            pg_port("postgres://u:p@127.0.0.1:55432/x?sslmode=disable"),
            55432
        );
        assert_eq!(pg_port("postgres://u:p:w@localhost/db"), 5432);
    }

    #[test]
    fn a_stat_line_with_spaces_in_the_name_parses() {
        let line = "42 (tmux: server) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 \
                    100 1000000 300 18446744073709551615";
        let p = parse_stat(line).unwrap();
        assert_eq!((p.ppid, p.comm.as_str()), (1, "tmux: server"));
        assert_eq!((p.own, p.reaped, p.rss_kib), (3.0, 0.1, 1200));
    }

    #[test]
    fn a_tree_holds_the_root_and_everything_under_it() {
        let p = |ppid| Proc {
            ppid,
            comm: String::new(),
            own: 0.0,
            reaped: 0.0,
            rss_kib: 0,
        };
        let all: HashMap<u32, Proc> = [(10, p(1)), (11, p(10)), (12, p(11)), (13, p(1))].into();
        let mut t = tree(&all, 10);
        t.sort();
        assert_eq!(t, [10, 11, 12]);
    }
}

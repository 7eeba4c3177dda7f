//! Simulated remote tmux hosts: a real `sshd` per host on a free loopback port, with its own
//! host key, a client key whose `authorized_keys` line forces `paliadin-shim serve` (pointed at
//! the host's private tmux server and spool, with the demo agent), and a `known_hosts` pinning
//! the host key. Everything lives in a temporary directory; sshd and its sessions are killed on
//! drop (the host's tmux server is killed by its [`TmuxRig`]).

use crate::procs::{TmuxRig, binary};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SshHost {
    /// The host's name in `PALIADIN_HOSTS` (and its queue `turns_<name>`).
    pub name: String,
    /// Its tmux server and spool, as the host agent on it uses them.
    pub rig: TmuxRig,
    pub port: u16,
    /// The worker's key and the pinned host key.
    pub key: PathBuf,
    pub known_hosts: PathBuf,
    dir: PathBuf,
    sshd: Option<Child>,
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "paliadin-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen")
        .success();
    assert!(ok, "ssh-keygen failed");
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl SshHost {
    /// Starts sshd for host `name` with the demo agent and waits until it accepts connections.
    pub fn start(name: &str) -> SshHost {
        SshHost::start_on(TmuxRig::new(), name, &[])
    }

    /// Same on a given rig, with extra environment for the host agent over its defaults (e.g.
    /// `PALIADIN_AGENT_CMD`; plain `NAME=value` words of the forced command: no spaces).
    pub fn start_on(rig: TmuxRig, name: &str, env: &[(&str, String)]) -> SshHost {
        let demo = binary("paliadin-demo-agent");
        let extra: String = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        // `PALIADIN_TEST_SHIM_LOG` sets the host agent's log filter (no spaces; default info).
        let log = std::env::var("PALIADIN_TEST_SHIM_LOG").unwrap_or_else(|_| "info".into());
        let forced = format!(
            "env PALIADIN_TMUX_SOCKET={} PALIADIN_SPOOL_DIR={} PALIADIN_AGENT_CMD={} {extra}RUST_LOG={log} {} serve",
            rig.socket,
            rig.spool.display(),
            demo.display(),
            binary("paliadin-shim").display(),
        );
        SshHost::start_forced(rig, name, &forced)
    }

    /// An sshd whose key runs `forced` (no quotes inside) instead of the host agent: a host that
    /// is not what it should be (the hostile-host tests).
    pub fn start_forced(rig: TmuxRig, name: &str, forced: &str) -> SshHost {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("paliadin-sshd-{}", &id[..12]));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (host_key, key) = (dir.join("host_ed25519"), dir.join("id_ed25519"));
        keygen(&host_key);
        keygen(&key);
        let pubkey = std::fs::read_to_string(key.with_extension("pub")).expect("client pubkey");
        let line = format!("restrict,command=\"{forced}\" {}", pubkey.trim());
        std::fs::write(dir.join("authorized_keys"), line + "\n").expect("authorized_keys");
        let port = free_port();
        let host_pub =
            std::fs::read_to_string(host_key.with_extension("pub")).expect("host pubkey");
        let known_hosts = dir.join("known_hosts");
        std::fs::write(
            &known_hosts,
            format!("[127.0.0.1]:{port} {}", host_pub.trim()),
        )
        .expect("known_hosts");
        // `SetEnv SHLVL=1`: bash, as the account's login shell running the forced command,
        // sources ~/.bashrc under sshd only as a top-level shell. A heavy rc file (a pyenv
        // rehash, seen on the CI image) then slows every connection, and one killed mid-rehash
        // leaves a lock that stalled every later session for 60 s.
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nMaxStartups 100\nLogLevel ERROR\nSetEnv SHLVL=1\n",
            host_key.display(),
            dir.join("authorized_keys").display(),
            dir.join("sshd.pid").display(),
        );
        std::fs::write(dir.join("sshd_config"), config).expect("sshd_config");
        let mut host = SshHost {
            name: name.to_owned(),
            rig,
            port,
            key,
            known_hosts,
            dir,
            sshd: None,
        };
        host.start_sshd();
        host
    }

    fn start_sshd(&mut self) {
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(self.dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stderr(log_file(&self.dir.join("sshd.log")))
            .spawn()
            .expect("start /usr/sbin/sshd");
        self.sshd = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `ssh://` address of this host for `PALIADIN_HOSTS` (ignores the user's ssh_config).
    pub fn url(&self) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}?key={}&known_hosts={}&config=/dev/null",
            whoami(),
            self.port,
            self.key.display(),
            self.known_hosts.display()
        )
    }

    /// `name=url`, one entry of `PALIADIN_HOSTS`.
    pub fn entry(&self) -> String {
        format!("{}={}", self.name, self.url())
    }

    /// The ssh client arguments that reach this host's forced command, for one-off connections.
    pub fn ssh_args(&self) -> Vec<String> {
        self.ssh_args_with(&self.key)
    }

    /// A second client key with **no** forced command (a plain shell), for benchmarks that
    /// compare with running one `ssh host tmux …` per step. sshd reads the file per connection.
    pub fn unrestricted_key(&self) -> PathBuf {
        let key = self.dir.join("id_shell");
        if !key.exists() {
            keygen(&key);
            let public = std::fs::read_to_string(key.with_extension("pub")).expect("pubkey");
            let mut keys = std::fs::read_to_string(self.dir.join("authorized_keys")).expect("keys");
            keys.push_str(public.trim());
            keys.push('\n');
            std::fs::write(self.dir.join("authorized_keys"), keys).expect("authorized_keys");
        }
        key
    }

    /// [`SshHost::ssh_args`] with another identity.
    pub fn ssh_args_with(&self, key: &Path) -> Vec<String> {
        let o = |s: String| ["-o".to_owned(), s];
        let mut a = vec!["-T".to_owned(), "-F".into(), "/dev/null".into()];
        a.extend(o("BatchMode=yes".into()));
        a.extend(["-i".into(), key.display().to_string()]);
        a.extend(o("IdentitiesOnly=yes".into()));
        a.extend(o(format!(
            "UserKnownHostsFile={}",
            self.known_hosts.display()
        )));
        a.extend(o("StrictHostKeyChecking=yes".into()));
        a.extend(["-p".into(), self.port.to_string(), "-l".into(), whoami()]);
        a.push("127.0.0.1".into());
        a
    }

    /// The per-connection sshd processes (each is one worker's channel).
    pub fn session_pids(&self) -> Vec<u32> {
        let Some(sshd) = &self.sshd else {
            return Vec::new();
        };
        children_of(sshd.id())
    }

    /// Kills every open SSH connection to this host (the listener stays up).
    pub fn kill_sessions(&self) {
        for pid in self.session_pids() {
            kill(pid);
        }
    }

    /// The host goes dark: sshd and every session and host agent under it are killed.
    pub fn stop(&mut self) {
        if let Some(mut sshd) = self.sshd.take() {
            let all = descendants(sshd.id());
            let _ = sshd.kill();
            let _ = sshd.wait();
            for pid in all {
                kill(pid);
            }
        }
    }
}

impl Drop for SshHost {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn log_file(path: &Path) -> Stdio {
    match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        Ok(f) => Stdio::from(f),
        Err(_) => Stdio::null(),
    }
}

/// SIGKILL, ignoring a process that is already gone.
pub fn kill(pid: u32) {
    let _ = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// `(pid, parent pid, command name)` of every process, from `/proc`.
fn processes() -> Vec<(u32, u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let (head, tail) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1.to_owned();
            let ppid = tail.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid, comm))
        })
        .collect()
}

/// Direct children of `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|p| p.1 == pid)
        .map(|p| p.0)
        .collect()
}

/// Direct children of `pid` named `comm` (e.g. the `ssh` clients of a worker process).
pub fn children_named(pid: u32, comm: &str) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|p| p.1 == pid && p.2 == comm)
        .map(|p| p.0)
        .collect()
}

fn descendants(pid: u32) -> Vec<u32> {
    let all = processes();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(all.iter().filter(|p| p.1 == parent).map(|p| p.0));
        i += 1;
    }
    found.remove(0);
    found
}

/// A `paliadin-worker` process serving `hosts` (a `PALIADIN_HOSTS` value), with test timings.
/// It logs at `info` (or `$PALIADIN_TEST_WORKER_LOG`) to the test's stderr, which the runner
/// shows only for a failing test: the turn's story, with the host agent's lines, comes with it.
pub fn worker(
    db_url: &str,
    id: &str,
    hosts: &str,
    extra: &[(&str, &str)],
) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(binary("paliadin-worker"));
    cmd.env("DATABASE_URL", db_url)
        .env("PALIADIN_HOSTS", hosts)
        .env("PALIADIN_WORKER_ID", id)
        .env("PALIADIN_LEASE_SECS", "3")
        .env("PALIADIN_POLL_MS", "200")
        .env("PALIADIN_SHUTDOWN_GRACE_SECS", "5")
        .env("PALIADIN_HOST_CONNECT_TIMEOUT_SECS", "3")
        .env("PALIADIN_SSH_KEEPALIVE_SECS", "2")
        .env(
            "RUST_LOG",
            std::env::var("PALIADIN_TEST_WORKER_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn paliadin-worker")
}

/// Waits until a worker has marked `host` reachable (or not) in the `hosts` table.
pub async fn wait_host(db: &crate::db::TestDb, host: &str, reachable: bool, secs: u64) {
    let what = format!("host {host} reachable = {reachable}");
    crate::wait_until(secs, &what, || async {
        sqlx::query_scalar::<_, bool>("SELECT reachable FROM hosts WHERE name = $1")
            .bind(host)
            .fetch_optional(&db.pool)
            .await
            .ok()
            .flatten()
            == Some(reachable)
    })
    .await;
}

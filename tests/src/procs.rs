//! Real `paliadin-worker` processes driving the demo agent in a private tmux server, for suites
//! that need process death (SIGKILL) and real tmux. Binaries come from the workspace's target
//! directory (`deploy/test.sh` builds them before the tests run).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

/// `target/<profile>/`, where the workspace's binaries are.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().expect("deps dir");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("profile dir")
    } else {
        dir
    };
    dir.to_path_buf()
}

pub fn binary(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --bins` (deploy/test.sh does)",
        p.display()
    );
    p
}

/// The tmux session a user's turns run in with the default prefix: `paliadin-<userid8>`
/// (spelled out here, not taken from `paliadin_shared`, so the suites pin the naming rule).
pub fn session_of(user: &uuid::Uuid) -> String {
    format!("paliadin-{}", &user.simple().to_string()[..8])
}

/// The window of a conversation's agent in its owner's session, as [`TmuxRig::agent_pid`] and
/// [`TmuxRig::screen`] take it (`paliadin_shared::SessionName::for_conversation`).
pub fn window_of(user: &uuid::Uuid, conversation: &uuid::Uuid) -> String {
    format!("{}:c-{}", session_of(user), conversation.simple())
}

/// The exact tmux target of an agent's pane: `=session:` (the session's active pane) or, for a
/// conversation's window (`session:window`), `=session:=window`.
pub fn pane_target(name: &str) -> String {
    match name.split_once(':') {
        Some((session, window)) => format!("={session}:={window}"),
        None => format!("={name}:"),
    }
}

/// A private tmux server and spool directory for one test; the server is killed on drop.
pub struct TmuxRig {
    pub socket: String,
    pub spool: PathBuf,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl TmuxRig {
    pub fn new() -> TmuxRig {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("paliadin-sys-{}", &id[..12]));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TmuxRig {
            socket: format!("paliadin-sys-{}", &id[..12]),
            spool: dir.join("spool"),
            _dir: tempdir::Dir(dir),
        }
    }

    /// Does the session exist on this rig's tmux server?
    pub fn has_session(&self, name: &str) -> bool {
        std::process::Command::new("tmux")
            .args(["-L", &self.socket, "has-session", "-t", &format!("={name}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Receipts of a turn counted by the demo agent (`.ack` lines, live or in `done/`), read so
    /// that a settle renaming the file meanwhile never counts it twice
    /// ([`paliadin_worker::spool::ack_lines`]; that race was the "duplicate paste" `ssh::failures`
    /// reported now and then). Not a turn id: no receipts.
    pub fn receipts(&self, turn: &str) -> usize {
        uuid::Uuid::try_parse(turn)
            .map_or(0, |id| paliadin_worker::spool::ack_lines(&self.spool, id))
    }

    /// When the worker first pressed Enter on the turn's envelope (its `.entered` mark, in the
    /// spool or in `done/`), in seconds since the epoch.
    pub fn entered_at(&self, turn: &str) -> f64 {
        let name = format!("{turn}.{}", paliadin_worker::spool::ENTERED);
        let live = self.spool.join(&name);
        let meta = std::fs::metadata(&live)
            .or_else(|_| std::fs::metadata(self.spool.join("done").join(&name)))
            .expect("the turn's .entered mark");
        let at = meta.modified().expect("mtime");
        at.duration_since(std::time::UNIX_EPOCH)
            .expect("after the epoch")
            .as_secs_f64()
    }

    /// Starts a worker process serving `local` on this rig, with the demo agent.
    pub fn worker(&self, db_url: &str, id: &str) -> Child {
        self.worker_with(db_url, id, &[])
    }

    /// [`TmuxRig::worker`] with settings of its own (`(variable, value)`, over the defaults).
    pub fn worker_with(&self, db_url: &str, id: &str, env: &[(&str, &str)]) -> Child {
        let cmd = Command::new(binary("paliadin-worker"));
        self.worker_via(cmd, db_url, id, env)
    }

    /// [`TmuxRig::worker_with`] started by `cmd`, a command that runs `paliadin-worker` (e.g.
    /// inside a network namespace, or with its stderr piped).
    pub fn worker_via(
        &self,
        mut cmd: Command,
        db_url: &str,
        id: &str,
        env: &[(&str, &str)],
    ) -> Child {
        worker_settings(&mut cmd, db_url, &self.socket, &self.spool, id);
        cmd.envs(env.iter().copied());
        cmd.spawn().expect("spawn paliadin-worker")
    }

    /// The pid of the process in a session's pane (the agent: `env` execs it), if any; a
    /// conversation's window may be named ([`window_of`]).
    pub fn agent_pid(&self, session: &str) -> Option<u32> {
        let format = match session.split_once(':') {
            // tmux 3.3a answers for the current window when the one named is missing.
            Some(_) => "#{window_name} #{pane_pid}".to_owned(),
            None => "#{pane_pid}".to_owned(),
        };
        let out = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "display-message", "-p", "-t"])
            .arg(pane_target(session))
            .arg(&format)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let out = String::from_utf8_lossy(&out.stdout);
        let pid = match session.split_once(':') {
            Some((_, window)) => out.trim().strip_prefix(window)?.trim(),
            None => out.trim(),
        };
        pid.parse().ok()
    }

    /// Whether an agent of `session` (the session's own, or any conversation's window in it)
    /// is busy: its busy marker (`.busy-<session>` or `.busy-<session>:<window>`) exists.
    pub fn busy(&self, session: &str) -> bool {
        let Ok(dir) = std::fs::read_dir(&self.spool) else {
            return false;
        };
        let own = format!(".busy-{session}");
        let window = format!("{own}:");
        dir.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name == own || name.starts_with(&window)
        })
    }

    /// SIGKILLs the agent in `session` (an OOM kill, a crash); panics when there is none.
    pub fn kill_agent(&self, session: &str) -> u32 {
        let pid = self
            .agent_pid(session)
            .expect("an agent runs in the session");
        let ok = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(ok.success(), "kill -KILL {pid}");
        pid
    }

    /// `tmux kill-server` on this rig's server (a reboot of the tmux host, as far as the
    /// agents are concerned).
    pub fn kill_server(&self) {
        let ok = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status()
            .expect("tmux");
        assert!(ok.success(), "tmux kill-server");
    }

    /// The visible text of a session's pane.
    pub fn screen(&self, session: &str) -> String {
        let out = std::process::Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "capture-pane",
                "-p",
                "-t",
                &pane_target(session),
            ])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Default for TmuxRig {
    fn default() -> Self {
        TmuxRig::new()
    }
}

impl Drop for TmuxRig {
    /// `kill-server`, then SIGKILL to the server if it is still there: tmux 3.3a does not exit
    /// while a control client of a killed worker holds output nobody reads (it waits for that
    /// pipe to drain), and such servers were left behind by the dozen.
    fn drop(&mut self) {
        let tmux = |args: &[&str]| {
            std::process::Command::new("tmux")
                .args(["-L", &self.socket])
                .args(args)
                .stderr(Stdio::null())
                .output()
        };
        let pid = tmux(&["display-message", "-p", "#{pid}"])
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let _ = tmux(&["kill-server"]);
        let is_tmux = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|comm| comm.starts_with("tmux"));
        if !pid.is_empty() && is_tmux {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn worker_settings(cmd: &mut Command, db_url: &str, socket: &str, spool: &Path, id: &str) {
    // The demo agent keeps its conversations beside the rig's spool (removed with the rig).
    let state = spool
        .parent()
        .map(|d| d.join("demo-state"))
        .unwrap_or_default();
    cmd.env("DATABASE_URL", db_url)
        .env("PALIADIN_DEMO_STATE_DIR", state)
        .env("PALIADIN_TMUX_SOCKET", socket)
        .env("PALIADIN_SPOOL_DIR", spool)
        .env("PALIADIN_WORKER_ID", id)
        .env("PALIADIN_AGENT_CMD", binary("paliadin-demo-agent"))
        .env("PALIADIN_LEASE_SECS", "3")
        .env("PALIADIN_POLL_MS", "200")
        .env("PALIADIN_SHUTDOWN_GRACE_SECS", "5")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true);
}

/// One stable conversation per session name, for suites that drive a session directly (every
/// turn of `session` belongs to it, so its agent is never switched).
pub fn conversation_of(session: &str) -> paliadin_worker::driver::Conversation {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (salt, session).hash(&mut h);
        h.finish()
    };
    paliadin_worker::driver::Conversation::new(uuid::Uuid::from_u64_pair(half(1), half(2)))
}

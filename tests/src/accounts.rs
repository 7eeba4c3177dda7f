//! Throw-away Unix accounts for the isolation suite (needs root): one worker account, and one
//! agent account per owner made by `deploy/add-owner-account.sh` exactly as an operator would
//! (home 0700, the agents' group, spool, skill, the account map line); a sudoers drop-in like
//! `deploy/sudoers/paliadin-agents.example` that lets the worker start `paliadin-shim serve …`
//! as those agents; commands run as any of them (`setpriv`). Everything is removed on drop: the
//! accounts' processes (by pid), homes, group and the drop-in.

use crate::procs::binary;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Is this process root? (The suite creates accounts; without root it is skipped, loudly.)
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

pub struct TestAccounts {
    /// The worker's account (no home, no sudo of its own but the drop-in).
    pub worker: String,
    /// One agent account per owner, each with a home of mode 0700.
    pub agents: Vec<String>,
    group: String,
    sudoers: PathBuf,
    /// Binaries every account can run, and the test's files (mode 0755, owned by root).
    pub dir: PathBuf,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run an account command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Can every account run `path` where it is (every ancestor searchable by others)?
fn reachable_by_all(path: &Path) -> bool {
    path.ancestors()
        .skip(1)
        .all(|d| std::fs::metadata(d).is_ok_and(|m| m.mode() & 0o001 != 0))
        && std::fs::metadata(path).is_ok_and(|m| m.mode() & 0o005 == 0o005)
}

impl TestAccounts {
    /// Creates the worker account and an agent account per owner (unique names), mapped to
    /// them in [`Self::map`].
    pub fn create(owners: &[uuid::Uuid]) -> TestAccounts {
        TestAccounts::create_with(owners, &[], &[])
    }

    /// [`TestAccounts::create`] with more `deploy/add-owner-account.sh` arguments for owner `i`
    /// in `extra[i]` (e.g. `--agent codex`), and `env` in the script's environment.
    pub fn create_with(
        owners: &[uuid::Uuid],
        extra: &[Vec<String>],
        env: &[(&str, &str)],
    ) -> TestAccounts {
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let dir = PathBuf::from(format!("/tmp/paliadin-iso-{tag}"));
        std::fs::create_dir_all(dir.join("bin")).expect("test dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let group = format!("pg{tag}");
        let a = TestAccounts {
            worker: format!("pw{tag}"),
            agents: (0..owners.len()).map(|i| format!("pa{tag}{i}")).collect(),
            sudoers: PathBuf::from(format!("/etc/sudoers.d/paliadin-test-{tag}")),
            group: group.clone(),
            dir,
        };
        run(Command::new("useradd").args(["-M", "-s", "/usr/sbin/nologin", &a.worker]));
        let script = crate::claude::repo_root().join("deploy/add-owner-account.sh");
        for (i, (user, agent)) in owners.iter().zip(&a.agents).enumerate() {
            run(Command::new(&script)
                .args(["--user-id", &user.to_string(), "--account", agent])
                .args(["--group", &group, "--map"])
                .arg(a.map())
                .args(extra.get(i).into_iter().flatten())
                .env_remove("OPENAI_API_KEY")
                .envs(env.iter().copied()));
        }
        let host_agent = a.bin("paliadin-shim");
        let rule = format!(
            "Defaults!{host_agent} !use_pty\n{} ALL=(%{group}) NOPASSWD: {host_agent} serve *\n",
            a.worker,
            host_agent = host_agent.display()
        );
        let staged = a.dir.join("sudoers");
        std::fs::write(&staged, rule).unwrap();
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o440)).unwrap();
        run(Command::new("visudo").arg("-cqf").arg(&staged));
        std::fs::rename(&staged, &a.sudoers).expect("install the sudoers drop-in");
        a
    }

    /// A workspace binary every account can run: where it is, or a copy in [`Self::dir`].
    pub fn bin(&self, name: &str) -> PathBuf {
        let built = binary(name);
        if reachable_by_all(&built) {
            return built;
        }
        let copy = self.dir.join("bin").join(name);
        if !copy.exists() {
            std::fs::copy(&built, &copy).expect("copy a binary for the accounts");
        }
        copy
    }

    /// The account map the script wrote.
    pub fn map(&self) -> PathBuf {
        self.dir.join("accounts")
    }

    pub fn uid(&self, account: &str) -> u32 {
        let out = Command::new("id").args(["-u", account]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("uid")
    }

    pub fn home(&self, account: &str) -> PathBuf {
        PathBuf::from(format!("/home/{account}"))
    }

    /// Where the host agent keeps an agent account's spool (`paliadin-shim serve --private`).
    pub fn spool(&self, account: &str) -> PathBuf {
        self.home(account).join(".local/state/paliadin/spool")
    }

    /// The socket of the account's Paliadin tmux server (its host agent runs without
    /// `XDG_RUNTIME_DIR`: `/tmp/paliadin-<uid>/tmux.sock`, docs/tmux-driving.md).
    pub fn tmux_socket(&self, account: &str) -> PathBuf {
        PathBuf::from(format!("/tmp/paliadin-{}/tmux.sock", self.uid(account)))
    }

    /// `program` run as `account` (its groups too), with nothing of this process's environment
    /// but `PATH`, and `HOME` set to the account's.
    pub fn command_as(&self, account: &str, program: &Path) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid",
            account,
            "--regid",
            account,
            "--init-groups",
            "--",
        ])
        .arg(program)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", self.home(account))
        .current_dir("/");
        cmd
    }

    /// Pids of every process of these accounts.
    pub fn processes(&self) -> Vec<(u32, u32)> {
        let uids: Vec<u32> = std::iter::once(&self.worker)
            .chain(&self.agents)
            .map(|a| self.uid(a))
            .collect();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                let uid = std::fs::metadata(e.path()).ok()?.uid();
                uids.contains(&uid).then_some((pid, uid))
            })
            .collect()
    }
}

impl Drop for TestAccounts {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.sudoers);
        for (pid, _) in self.processes() {
            crate::sshd::kill(pid);
        }
        for agent in &self.agents {
            let _ = std::fs::remove_dir_all(format!("/tmp/tmux-{}", self.uid(agent)));
        }
        for agent in &self.agents {
            let _ = Command::new("userdel")
                .args(["-f", "-r", agent])
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new("userdel")
            .args(["-f", &self.worker])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("groupdel").arg(&self.group).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

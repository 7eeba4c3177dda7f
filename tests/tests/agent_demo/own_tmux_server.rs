//! Paliadin's agents run in a tmux server of Paliadin's own, with the worker's environment —
//! never in a person's tmux (docs/tmux-driving.md, "Paliadin's own tmux server").
//!
//! A person works in tmux: their server runs on their default socket, started with another
//! `PATH` and `HOME`, and the worker is started from inside one of its sessions (`TMUX` and
//! `TMUX_TMPDIR` inherited). Paliadin's server was started earlier by a worker with another
//! environment. Pinned: the demo agent and the real Claude Code (found on the worker's `PATH`
//! only, its key and model URL in the worker's environment only) answer; the agent's
//! environment is the worker's, and the stale one is gone; the key is on no command line and
//! in no log; the person's `tmux ls` shows none of Paliadin's sessions, and their `kill-server`
//! leaves the agents alone; an agent command that does not exist fails the turn at once with
//! its own words; `deploy/dev.sh` run inside the person's tmux session works.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::claude::{API_KEY, claude_bin, install_skill, repo_root};
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, SseEvent, user};
use paliadin_e2e::model::ModelServer;
use paliadin_e2e::model::script::default_body;
use paliadin_e2e::procs::{bin_dir, binary, session_of};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tokio::process::Child;

/// The key the worker holds: it must reach the agent and nothing else.
const SECRET: &str = "sk-ant-own-server-test-7f3c9a";

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("paliadin-own-{}", &id[..12]));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&dir)
            .unwrap();
        Scratch(dir)
    }

    fn dir(&self, name: &str) -> PathBuf {
        let d = self.0.join(name);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&d)
            .unwrap();
        d
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The person's own tmux server, on their default socket (under their `TMUX_TMPDIR`), started
/// with their own `PATH` and `HOME`; killed on drop.
struct Person {
    tmpdir: PathBuf,
    env: Vec<(String, String)>,
}

impl Person {
    fn start(scratch: &Scratch, env: &[(&str, String)]) -> Person {
        let p = Person {
            tmpdir: scratch.dir("person-tmux"),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        };
        let out = p.tmux(&["new-session", "-d", "-s", "mine", "-x", "120", "-y", "40"]);
        assert!(out.status.success(), "the person's tmux: {out:?}");
        p
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("TMUX_TMPDIR", &self.tmpdir)
            .args(args)
            .output()
            .expect("tmux")
    }

    /// `$TMUX` of a shell in the person's session.
    fn tmux_var(&self) -> String {
        let out = self.tmux(&[
            "display-message",
            "-p",
            "-t",
            "=mine:",
            "#{socket_path},#{pid},0",
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn sessions(&self) -> Vec<String> {
        let out = self.tmux(&["list-sessions", "-F", "#{session_name}"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Person {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// Paliadin's server at `socket`; killed on drop.
struct Ours(PathBuf);

impl Ours {
    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.0)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux")
    }

    fn sessions(&self) -> Vec<String> {
        let out = self.tmux(&["list-sessions", "-F", "#{session_name}"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The pid of the agent in `session` (its pane's process: `env` execs it).
    fn agent_pid(&self, session: &str) -> u32 {
        let target = format!("={session}:");
        let out = self.tmux(&["display-message", "-p", "-t", &target, "#{pane_pid}"]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no agent pid for {session}: {out:?}"))
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// A process's environment, from `/proc/<pid>/environ`.
fn environ(pid: u32) -> HashMap<String, String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    raw.split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// Every process whose command line holds `needle`.
fn command_lines_holding(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&raw).replace('\0', " ");
        if line.contains(needle) {
            found.push(line);
        }
    }
    found
}

/// `/usr/bin:/bin` with `dir` first.
fn path_with(dir: &Path) -> String {
    format!("{}:/usr/bin:/bin", dir.display())
}

/// A worker as a person starts it from inside their tmux session: `TMUX` and `TMUX_TMPDIR`
/// inherited, no `PALIADIN_TMUX_SOCKET`, the default socket under `xdg`. Logs to `log`.
fn worker(
    db: &TestDb,
    id: &str,
    person: &Person,
    xdg: &Path,
    env: &[(&str, String)],
    log: &Path,
) -> Child {
    let mut cmd = tokio::process::Command::new(binary("paliadin-worker"));
    cmd.env_clear()
        .env("DATABASE_URL", &db.url)
        .env("PALIADIN_WORKER_ID", id)
        .env("PALIADIN_LEASE_SECS", "3")
        .env("PALIADIN_POLL_MS", "200")
        .env("PALIADIN_SHUTDOWN_GRACE_SECS", "5")
        .env("RUST_LOG", "info")
        .env("XDG_RUNTIME_DIR", xdg)
        .env("TMUX", person.tmux_var())
        .env("TMUX_TMPDIR", &person.tmpdir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log"))
        .kill_on_drop(true);
    cmd.spawn().expect("spawn paliadin-worker")
}

async fn turn(c: &Client, message: &str, secs: u64) -> Vec<SseEvent> {
    let (_, sse) = c.turn(message).await;
    c.stream_all(&sse, None, secs).await
}

#[track_caller]
fn assert_end(evs: &[SseEvent], what: &str) {
    let end = evs.last().expect("events");
    assert_eq!(end.event, "end", "{what}: {evs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_never_join_a_person_s_tmux_server_nor_its_environment() {
    let scratch = Scratch::new();
    let (xdg, worker_home) = (scratch.dir("xdg"), scratch.dir("worker-home"));
    let person = Person::start(
        &scratch,
        &[
            ("PATH", "/usr/bin:/bin".into()),
            ("HOME", scratch.dir("person-home").display().to_string()),
        ],
    );
    // Paliadin's server, started earlier by a worker with another environment (and without
    // Paliadin's configuration), still holds a session of that time.
    let ours = Ours(xdg.join("paliadin/tmux.sock"));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(xdg.join("paliadin"))
        .unwrap();
    let earlier = Command::new("tmux")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent-earlier-home")
        .env("ANTHROPIC_API_KEY", "sk-stale-key")
        .env("PALIADIN_PROBE", "stale")
        .arg("-S")
        .arg(&ours.0)
        .args([
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "earlier",
            "sleep",
            "600",
        ])
        .output()
        .unwrap();
    assert!(earlier.status.success(), "{earlier:?}");

    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "person@own", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let log = scratch.0.join("worker.log");
    // The demo agent by its bare name: only the worker's PATH finds it.
    let mut w = worker(
        &db,
        "own-w1",
        &person,
        &xdg,
        &[
            ("PATH", path_with(&bin_dir())),
            ("HOME", worker_home.display().to_string()),
            ("PALIADIN_AGENT_CMD", "paliadin-demo-agent".into()),
            ("ANTHROPIC_API_KEY", SECRET.into()),
            (
                "PALIADIN_AGENT_ENV",
                "'PROBE_EXTRA=set by the operator'".into(),
            ),
        ],
        &log,
    );

    let evs = turn(&c, "hello from a person who lives in tmux", 60).await;
    assert_end(&evs, "the first turn");
    let session = session_of(&owner.id);
    assert_eq!(person.sessions(), ["mine"], "the person's tmux ls");
    let mut mine = ours.sessions();
    mine.sort();
    assert!(mine.contains(&session), "Paliadin's server: {mine:?}");

    let pid = ours.agent_pid(&session);
    let env = environ(pid);
    assert_eq!(
        env.get("PATH").map(String::as_str),
        Some(path_with(&bin_dir()).as_str())
    );
    assert_eq!(env.get("HOME"), Some(&worker_home.display().to_string()));
    assert_eq!(
        env.get("ANTHROPIC_API_KEY").map(String::as_str),
        Some(SECRET)
    );
    assert_eq!(
        env.get("PROBE_EXTRA").map(String::as_str),
        Some("set by the operator")
    );
    assert_eq!(
        env.get("PALIADIN_PROBE"),
        None,
        "the earlier server's variable stayed"
    );
    assert_eq!(env.get("DATABASE_URL"), None);
    let tmux_var = env.get("TMUX").cloned().unwrap_or_default();
    assert!(
        tmux_var.starts_with(&ours.0.display().to_string()),
        "TMUX={tmux_var}"
    );
    assert!(
        command_lines_holding(SECRET).is_empty(),
        "the key is on a command line: {:?}",
        command_lines_holding(SECRET)
    );

    // The person cleans up their own tmux: the agents stay, the next turn reuses the same one.
    let killed = person.tmux(&["kill-server"]);
    assert!(killed.status.success(), "{killed:?}");
    let evs = turn(&c, "still there?", 60).await;
    assert_end(&evs, "the turn after the person's kill-server");
    assert_eq!(ours.agent_pid(&session), pid, "the agent was restarted");

    w.kill().await.unwrap();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains(SECRET), "the key is in the worker's log");
    assert!(
        logged.contains("ANTHROPIC_API_KEY"),
        "the log names what the agent gets:\n{logged}"
    );
    drop(api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_cannot_start_fails_the_turn_at_once_with_its_own_words() {
    let scratch = Scratch::new();
    let xdg = scratch.dir("xdg");
    let person = Person::start(&scratch, &[("PATH", "/usr/bin:/bin".into())]);
    let _ours = Ours(xdg.join("paliadin/tmux.sock"));
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "person@own", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let env = [
        ("PATH", path_with(&bin_dir())),
        ("PALIADIN_AGENT_CMD", "no-such-agent-4711 --flag".into()),
        ("PALIADIN_TURN_TIMEOUT_SECS", "120".into()),
    ];
    let _w = worker(&db, "own-w2", &person, &xdg, &env, &scratch.0.join("w.log"));
    let started = std::time::Instant::now();
    let evs = turn(&c, "hello", 60).await;
    let end = evs.last().expect("events");
    assert_eq!(end.event, "error", "{evs:?}");
    assert_eq!(end.data["code"], "session_lost");
    let message = end.data["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("no-such-agent-4711") && message.contains("No such file or directory"),
        "{message}"
    );
    // Well under the turn's time limit: the agent's exit ends the turn.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));

    // `doctor` says so too, with the agent's PATH.
    let out = Command::new(binary("paliadin-worker"))
        .arg("doctor")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("DATABASE_URL", &db.url)
        .env("XDG_RUNTIME_DIR", &xdg)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{report}");
    assert!(report.contains("no-such-agent-4711"), "{report}");
    assert!(report.contains("agent's PATH"), "{report}");
    drop(api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_answers_beside_a_person_s_tmux_server() {
    let Some(claude) = claude_bin() else {
        match std::env::var("PALIADIN_CLAUDE_SKIP") {
            Ok(why) => {
                eprintln!("\n!!! SKIPPED: the real Claude Code suite needs claude: {why}\n");
                return;
            }
            Err(_) => panic!("no claude binary: run deploy/ensure-claude.sh (deploy/test.sh does)"),
        }
    };
    let scratch = Scratch::new();
    let (xdg, home, workdir, bin) = (
        scratch.dir("xdg"),
        scratch.dir("claude-home"),
        scratch.dir("work"),
        scratch.dir("bin"),
    );
    let spool = xdg.join("paliadin/spool");
    std::os::unix::fs::symlink(&claude, bin.join("claude")).unwrap();
    install_skill(&home, &workdir, Some(&spool), Some(API_KEY));
    let model = ModelServer::start().await;
    let person = Person::start(
        &scratch,
        &[
            ("PATH", "/usr/bin:/bin".into()),
            ("HOME", scratch.dir("person-home").display().to_string()),
        ],
    );
    let ours = Ours(xdg.join("paliadin/tmux.sock"));
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "person@claude", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    // Claude Code by its bare name, its home, key and model only in the worker's environment.
    let env = [
        (
            "PATH",
            format!("{}:{}", bin.display(), path_with(&bin_dir())),
        ),
        ("HOME", home.display().to_string()),
        ("PALIADIN_AGENT_CMD", "claude".into()),
        ("PALIADIN_WORKDIR", workdir.display().to_string()),
        ("PALIADIN_TURN_TIMEOUT_SECS", "60".into()),
        ("ANTHROPIC_API_KEY", API_KEY.into()),
        ("ANTHROPIC_BASE_URL", model.base_url.clone()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        ("PALIADIN_AGENT_ENV", "DISABLE_AUTOUPDATER=1".into()),
    ];
    let _w = worker(&db, "own-cc", &person, &xdg, &env, &scratch.0.join("w.log"));
    let evs = turn(&c, "hello there", 90).await;
    let end = evs.last().expect("events");
    if end.event != "end" {
        let screen = ours.tmux(&[
            "capture-pane",
            "-p",
            "-t",
            &format!("={}:", session_of(&owner.id)),
        ]);
        panic!(
            "ended with {} {}\n--- pane:\n{}",
            end.event,
            end.data,
            String::from_utf8_lossy(&screen.stdout)
        );
    }
    assert_eq!(end.data["text"], default_body("hello there"));
    assert_eq!(person.sessions(), ["mine"], "the person's tmux ls");
    assert!(ours.sessions().contains(&session_of(&owner.id)));
    let env = environ(ours.agent_pid(&session_of(&owner.id)));
    assert_eq!(
        env.get("DISABLE_AUTOUPDATER").map(String::as_str),
        Some("1")
    );
    drop(api);
}

/// A free loopback port (bound and released: the script binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_sh_run_inside_a_person_s_tmux_session_works() {
    let scratch = Scratch::new();
    let (xdg, dev) = (scratch.dir("xdg"), scratch.dir("dev"));
    // The person's shell: this test's own environment (cargo and all), without Paliadin's
    // settings or the test's database.
    let shell: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            let test_only = [
                "PALIADIN_",
                "TMUX",
                "NEXTEST",
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_TARGET_TMPDIR",
                "CARGO_PRIMARY_PACKAGE",
            ];
            !test_only.iter().any(|p| k.starts_with(p)) && k != "DATABASE_URL"
        })
        .collect();
    let shell: Vec<(&str, String)> = shell.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let person = Person::start(&scratch, &shell);
    let _ours = Ours(xdg.join("paliadin/tmux.sock"));
    let db = TestDb::new().await;
    let port = free_port();
    let log = scratch.0.join("dev.log");
    let script = format!(
        "cd '{}' && XDG_RUNTIME_DIR='{}' PALIADIN_DEV_DIR='{}' PALIADIN_BIND=127.0.0.1:{port} \
         DATABASE_URL='{}' PALIADIN_AGENT_CMD=paliadin-demo-agent deploy/dev.sh > '{}' 2>&1",
        repo_root().display(),
        xdg.display(),
        dev.display(),
        db.url,
        log.display()
    );
    let started = person.tmux(&[
        "new-window",
        "-t",
        "=mine:",
        "-n",
        "dev",
        "bash",
        "-c",
        &script,
    ]);
    assert!(started.status.success(), "{started:?}");
    let ready = || std::fs::read_to_string(&log).unwrap_or_default();
    paliadin_e2e::wait_until(300, "deploy/dev.sh says it is running", || {
        let text = ready();
        async move { text.contains("Paliadin is running.") || text.contains("dev.sh: ") }
    })
    .await;
    let text = ready();
    assert!(text.contains("Paliadin is running."), "{text}");
    assert!(
        text.contains("tmux -S "),
        "dev.sh prints how to watch the agents:\n{text}"
    );
    let token = std::fs::read_to_string(dev.join("owner-token")).unwrap();
    let c = Client::new(&format!("http://127.0.0.1:{port}"), Some(token.trim()));
    let evs = turn(&c, "hello from inside tmux", 60).await;
    assert_end(&evs, "a turn through deploy/dev.sh");
    assert_eq!(person.sessions(), ["mine"], "the person's tmux ls");
    // Ctrl-C in the person's window stops it.
    let _ = person.tmux(&["send-keys", "-t", "=mine:dev", "C-c"]);
    paliadin_e2e::wait_until(60, "deploy/dev.sh stopped", || {
        let text = ready();
        async move { text.contains("stopping") }
    })
    .await;
    paliadin_e2e::wait_until(60, "the API port is free again", || async move {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    })
    .await;
}

//! What Paliadin adds to a turn of the real Claude Code (issue 26; figures printed, never
//! asserted; recorded in `docs/performance.md`, "Hooks"). Every case runs the same scripted
//! conversation on the scripted model (offline, loopback): `plain` (the model writes the reply
//! file, then says so: 0 tool calls before the reply) and `tools 20` (20 `Read` calls of a small
//! file, then the same two steps). Five ways, interleaved run by run so that a change of load
//! hits them alike, each a warm Claude Code in its own tmux server and `HOME`:
//!
//! - **alone**: Claude Code with no hooks at all (`hooks` removed from `settings.json`, the
//!   skill and permissions kept), in a tmux pane: paste, then the clock starts at Enter and
//!   stops when the reply file the model writes (`<id>.md.tmp`, named in the prompt) is
//!   complete. This is the agent's own time for what the person needs: the reply's text.
//! - **no-op hooks**: the same, with `true` registered as the prompt, tool and Stop hook:
//!   Claude Code's own cost of running a hook, whatever the hook does.
//! - **compiled** / **python**: the same pane with Paliadin's hooks: `paliadin-hook`, or the
//!   Python hooks it replaced (taken from git history, run by Debian's `/usr/bin/python3`).
//!   Enter → receipt (the prompt hook's `.ack`), Enter → reply published (`<id>.md`, renamed by
//!   the tool hook after the `Write`), Enter → Stop done (the Stop hook removed the busy marker:
//!   the whole turn).
//! - **system**: the whole Paliadin ([`ClaudeSys`]: the API in-process, PostgreSQL, one
//!   `paliadin-worker` driving Claude Code with the compiled hooks in tmux): POST of the
//!   message → its `end` event on the turn's stream; POST → reply published (polled in the
//!   spool); reply published → the turn's usage readable in Claude's transcript (what the
//!   worker waits for before it finishes a turn); the phases from the turn's row.
//!
//! Paliadin's added time per turn is the system's POST → end minus alone's Enter → reply
//! (p50s); per tool call, the difference between `tools 20` and `plain`, divided by 20. All
//! prompts carry the same `Reply file: …` line (alone needs it: without the prompt hook's
//! reminder the scripted model would not know where to write), except the system's, whose
//! prompt the worker builds. Each run starts with the agent idle (its previous turn stopped,
//! its screen quiet, then 0.5 s). Files are polled every millisecond. `PALIADIN_BENCH_TRACE=1`
//! prints the worker's log lines of each system turn in ms after its POST (stderr;
//! `PALIADIN_BENCH_LOG` sets the worker's log filter, e.g. `warn,paliadin_worker=debug`).
//!
//! Run: `deploy/ensure-claude.sh && cargo build --bins && PALIADIN_TEST_ADMIN_URL=… cargo bench
//! --profile dev -p paliadin-e2e --bench claude_turn` (`PALIADIN_BENCH_N` runs per case,
//! default 5, at most 30; `PALIADIN_BENCH_PYTHON=0` leaves the Python hooks out). Any run that
//! fails (no receipt, no reply within 60 s, a turn that does not end) ends the benchmark with a
//! panic and the pane's screen.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::claude::Claude;
use paliadin_e2e::claude_sys::ClaudeSys;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, next_event, user};
use paliadin_e2e::procs::{TmuxRig, binary};
use paliadin_e2e::system::start_api;
use paliadin_shared::SessionName;
use paliadin_shared::db::users::Role;
use paliadin_worker::tmux::{Sessions, Tmux, TmuxConfig, deliver};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

const SESSION: &str = "paliadin-bench01";
const LIMIT: Duration = Duration::from_secs(60);
const TOOLS: usize = 20;

/// The hooks a pane's Claude Code runs.
#[derive(Clone, Copy, PartialEq)]
enum Hooks {
    None,
    /// Claude Code's own cost of running a hook: `true` (a shell builtin) registered for the
    /// three hooks a turn runs.
    Noop,
    Compiled,
    Python,
}

/// The scripted conversation: the message's words and the model answers it takes.
#[derive(Clone, Copy)]
enum Kind {
    Plain,
    Tools,
}

impl Kind {
    fn label(self) -> String {
        match self {
            Kind::Plain => "plain (0 tool calls)".to_owned(),
            Kind::Tools => format!("{TOOLS} `Read` calls"),
        }
    }

    fn message(self, file: &Path) -> String {
        match self {
            Kind::Plain => "plain question: what is in the notes?".to_owned(),
            Kind::Tools => format!("tools {TOOLS} {}", file.display()),
        }
    }

    /// Main-loop answers of the turn: the tool calls, the `Write`, the closing text.
    fn answers(self) -> usize {
        match self {
            Kind::Plain => 2,
            Kind::Tools => TOOLS + 2,
        }
    }
}

/// Polls for `path` every millisecond until `done` holds for its text; the time it took.
async fn file_when(path: &Path, since: Instant, done: impl Fn(&str) -> bool) -> Option<Duration> {
    while since.elapsed() < LIMIT {
        if let Ok(text) = std::fs::read_to_string(path)
            && done(&text)
        {
            return Some(since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

async fn gone(path: &Path, since: Instant) -> Option<Duration> {
    while since.elapsed() < LIMIT {
        if !path.exists() {
            return Some(since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

/// A complete reply file: it ends with the trailer line the model writes last.
fn complete(text: &str) -> bool {
    text.trim_end().ends_with("-->")
}

/// One Claude Code in a tmux pane of its own, driven as the worker drives it, without a worker.
struct Pane {
    hooks: Hooks,
    claude: Claude,
    tmux: Tmux,
    rig: TmuxRig,
}

/// The Python hooks from the last commit that had them, written to `dir`.
fn python_hooks(dir: &Path) -> Option<String> {
    let repo = paliadin_e2e::claude::repo_root();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    let probe = "deploy/skill/hooks/paliadin_hooks.py";
    let removed = git(&["log", "-1", "--format=%H", "--diff-filter=D", "--", probe])?;
    let removed = String::from_utf8_lossy(&removed.stdout).trim().to_owned();
    if removed.is_empty() {
        return None;
    }
    let commit = format!("{removed}^");
    std::fs::create_dir_all(dir).ok()?;
    for name in [
        "user-prompt-submit",
        "post-tool-use",
        "stop",
        "permission-request",
        "paliadin_hooks.py",
    ] {
        let out = git(&["show", &format!("{commit}:deploy/skill/hooks/{name}")])?;
        std::fs::write(dir.join(name), out.stdout).ok()?;
    }
    let short = git(&["rev-parse", "--short", &commit])?;
    Some(String::from_utf8_lossy(&short.stdout).trim().to_owned())
}

/// Rewrites the installed `settings.json` for `hooks`: none at all, or the four hooks the
/// Python version had run by `/usr/bin/python3` (the later ones, which fire only on API errors
/// and compaction, stay compiled).
fn set_hooks(claude: &Claude, hooks: Hooks, python: &Path) {
    let path = claude.home.join(".claude/settings.json");
    let text = std::fs::read_to_string(&path).expect("settings.json");
    let mut settings: Value = serde_json::from_str(&text).expect("settings");
    match hooks {
        Hooks::Compiled => return,
        Hooks::None => {
            settings.as_object_mut().expect("object").remove("hooks");
        }
        Hooks::Noop => {
            let noop = |matcher: Option<&str>| {
                let mut group = serde_json::json!({"hooks": [{"type": "command", "command": "true", "timeout": 30}]});
                if let Some(m) = matcher {
                    group["matcher"] = Value::String(m.to_owned());
                }
                Value::Array(vec![group])
            };
            settings["hooks"] = serde_json::json!({
                "UserPromptSubmit": noop(None),
                "PostToolUse": noop(Some("*")),
                "Stop": noop(None),
            });
        }
        Hooks::Python => {
            for (event, hook) in [
                ("UserPromptSubmit", "user-prompt-submit"),
                ("PostToolUse", "post-tool-use"),
                ("Stop", "stop"),
                ("PermissionRequest", "permission-request"),
            ] {
                let entry = settings["hooks"][event]
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                    .flat_map(|g| g["hooks"].as_array_mut().into_iter().flatten())
                    .find(|h| {
                        h["command"]
                            .as_str()
                            .is_some_and(|c| c.contains("paliadin-hook"))
                    })
                    .expect("the hook is registered");
                entry["command"] = Value::String(format!(
                    "/usr/bin/python3 '{}'",
                    python.join(hook).display()
                ));
            }
        }
    }
    std::fs::write(&path, settings.to_string()).expect("settings.json");
}

/// One pane run's times from Enter.
struct PaneRun {
    receipt: Option<Duration>,
    reply: Duration,
    stop: Option<Duration>,
}

impl Pane {
    async fn start(hooks: Hooks, python: &Path) -> Option<Pane> {
        let rig = TmuxRig::new();
        let claude = Claude::setup(&rig).await?;
        set_hooks(&claude, hooks, python);
        let tmux =
            Tmux::new("tmux", Some(rig.socket.clone())).with_paste_dir(rig.spool.join(".paste"));
        let mut cfg = TmuxConfig::from_agent_cmd(&claude.agent_cmd).expect("agent command");
        cfg.spool_dir = rig.spool.clone();
        cfg.workdir = claude.workdir.clone();
        let name = SessionName::parse(SESSION).expect("name");
        let sessions = Sessions::new(tmux.clone(), Duration::ZERO);
        sessions
            .create(
                &name,
                &cfg,
                Uuid::new_v4(),
                paliadin_worker::tmux::launch::Mode::Start,
            )
            .await
            .expect("new-session");
        let quiet = Duration::from_millis(300);
        sessions
            .wait_ready(&name, quiet, LIMIT)
            .await
            .expect("Claude Code starts");
        let pane = Pane {
            hooks,
            claude,
            tmux,
            rig,
        };
        pane.warm_up().await;
        Some(pane)
    }

    fn target(&self) -> String {
        format!("={SESSION}:")
    }

    async fn screen(&self) -> String {
        deliver::capture(&self.tmux, &self.target())
            .await
            .unwrap_or_default()
    }

    /// The first prompt, its Enter repeated until Claude takes it (a new Claude Code may read
    /// the paste and an Enter at once); not measured.
    async fn warm_up(&self) {
        let turn = Uuid::new_v4();
        self.paste(turn, Kind::Plain).await;
        let started = Instant::now();
        loop {
            deliver::key(&self.tmux, &self.target(), "Enter")
                .await
                .expect("enter");
            tokio::time::sleep(Duration::from_millis(1000)).await;
            let taken = self.claude.server.prompts().iter().any(|(t, _)| *t == turn);
            if taken {
                break;
            }
            assert!(
                started.elapsed() < LIMIT,
                "the warm-up prompt was never taken:\n{}",
                self.screen().await
            );
        }
        self.idle(turn, Kind::Plain).await;
    }

    async fn paste(&self, turn: Uuid, kind: Kind) {
        let file = self.claude.workdir.join("notes.txt");
        let tmp = self.rig.spool.join(format!("{turn}.md.tmp"));
        let text = format!(
            "[PALIADIN:{turn}] {}\nReply file: {}",
            kind.message(&file),
            tmp.display()
        );
        let before = self.screen().await;
        deliver::paste(&self.tmux, &self.target(), turn, &text)
            .await
            .expect("paste");
        assert!(
            deliver::drawn(&self.tmux, &self.target(), &before, Duration::from_secs(5)).await,
            "the paste never showed"
        );
        // The person has typed the message; now they press Enter.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    /// Waits until Claude has ended `turn` and is idle again, as the worker does before a paste:
    /// the model played the turn's last answer, the busy marker is gone (with hooks), the screen
    /// has been quiet for 100 ms; then 0.5 s more.
    async fn idle(&self, turn: Uuid, kind: Kind) {
        let started = Instant::now();
        while self
            .claude
            .server
            .spent()
            .iter()
            .filter(|s| s.turn_id == Some(turn))
            .count()
            < kind.answers()
        {
            assert!(
                started.elapsed() < LIMIT,
                "the turn never got its last answer:\n{}",
                self.screen().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if self.hooks != Hooks::None {
            let busy = self.rig.spool.join(format!(".busy-{SESSION}"));
            assert!(gone(&busy, Instant::now()).await.is_some(), "still busy");
        }
        let sessions = Sessions::new(self.tmux.clone(), Duration::ZERO);
        let quiet = Duration::from_millis(100);
        let name = SessionName::parse(SESSION).expect("name");
        sessions
            .wait_ready(&name, quiet, LIMIT)
            .await
            .expect("quiet screen");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    /// The time, or a panic with the pane's screen: a run failed.
    async fn must(&self, took: Option<Duration>, what: &str, turn: Uuid) -> Duration {
        match took {
            Some(d) => d,
            None => panic!("{what} (turn {turn}); the pane:\n{}", self.screen().await),
        }
    }

    async fn run(&self, kind: Kind) -> PaneRun {
        let turn = Uuid::new_v4();
        self.paste(turn, kind).await;
        let spool = &self.rig.spool;
        let enter = Instant::now();
        deliver::key(&self.tmux, &self.target(), "Enter")
            .await
            .expect("enter");
        let run = if matches!(self.hooks, Hooks::None | Hooks::Noop) {
            let tmp = spool.join(format!("{turn}.md.tmp"));
            let written = file_when(&tmp, enter, complete).await;
            let reply = self.must(written, "no reply file", turn).await;
            PaneRun {
                receipt: None,
                reply,
                stop: None,
            }
        } else {
            let ack = spool.join(format!("{turn}.ack"));
            let acked = file_when(&ack, enter, |_| true).await;
            let receipt = self.must(acked, "no receipt", turn).await;
            let md = spool.join(format!("{turn}.md"));
            let published = file_when(&md, enter, complete).await;
            let reply = self.must(published, "no published reply", turn).await;
            let busy = spool.join(format!(".busy-{SESSION}"));
            let stop = self.must(gone(&busy, enter).await, "no stop", turn).await;
            PaneRun {
                receipt: Some(receipt),
                reply,
                stop: Some(stop),
            }
        };
        self.idle(turn, kind).await;
        run
    }
}

/// Claude Code's transcript of `conversation` under the agent's HOME.
fn transcript_path(claude: &Claude, conversation: Uuid) -> PathBuf {
    let slug: String = claude
        .workdir
        .display()
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    claude
        .home
        .join(".claude/projects")
        .join(slug)
        .join(format!("{conversation}.jsonl"))
}

/// One system run: POST → `end`, and the turn row's phases (ms).
struct SysRun {
    end: Duration,
    published: Duration,
    usage: Duration,
    queued_claimed: f64,
    claimed_delivered: f64,
    delivered_finished: f64,
}

async fn sys_idle(sys: &ClaudeSys) {
    let busy = sys.rig.spool.join(format!(".busy-{}", sys.session()));
    assert!(gone(&busy, Instant::now()).await.is_some(), "still busy");
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// The worker's JSON log lines, kept.
type Log = Arc<Mutex<Vec<Value>>>;

/// [`ClaudeSys`] with the worker's log kept (`PALIADIN_BENCH_LOG`: its filter, by default
/// `warn,paliadin_worker=info`).
async fn start_system() -> Option<(ClaudeSys, Log)> {
    let rig = TmuxRig::new();
    let claude = Claude::setup(&rig).await?;
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "owner@turn-bench", Role::Owner).await;
    let mut env = claude.worker_env();
    let filter = std::env::var("PALIADIN_BENCH_LOG");
    env.push((
        "RUST_LOG",
        filter.unwrap_or_else(|_| "warn,paliadin_worker=info".to_owned()),
    ));
    env.push(("PALIADIN_LOG_JSON", "1".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut cmd = tokio::process::Command::new(binary("paliadin-worker"));
    cmd.stderr(Stdio::piped());
    let mut worker = rig.worker_via(cmd, &db.url, "turn-bench", &env);
    let log = Log::default();
    let stderr = worker.stderr.take().expect("piped stderr");
    let kept = log.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            match serde_json::from_str::<Value>(&line) {
                Ok(v) => kept.lock().expect("log").push(v),
                Err(_) => eprintln!("worker: {line}"),
            }
        }
    });
    let sys = ClaudeSys {
        c: Client::new(&api.base, Some(&token)),
        worker,
        claude,
        rig,
        owner,
        api,
        db,
    };
    Some((sys, log))
}

/// Seconds since midnight UTC of an RFC 3339 timestamp (`…THH:MM:SS.fffZ`).
fn day_secs(stamp: &str) -> Option<f64> {
    let time = stamp.split_once('T')?.1.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// With `PALIADIN_BENCH_TRACE` set: the worker's log lines of `turn`, in ms after the POST
/// (stderr), to see where a turn's time goes.
fn trace(log: &Log, turn: &str, posted: std::time::SystemTime, times: (Duration, Duration)) {
    if std::env::var_os("PALIADIN_BENCH_TRACE").is_none() {
        return;
    }
    let since = posted
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        % 86_400.0;
    let (published, end) = times;
    eprintln!(
        "turn {turn}: POST → reply published {:.0} ms, → end {:.0} ms",
        ms(published),
        ms(end)
    );
    for v in log.lock().expect("log").iter() {
        let ours = v["span"]["turn_id"].as_str() == Some(turn)
            || v["spans"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["turn_id"].as_str() == Some(turn)));
        if !ours {
            continue;
        }
        let at = v["timestamp"].as_str().and_then(day_secs).unwrap_or(since);
        eprintln!(
            "  {:>7.1} ms  {}",
            (at - since) * 1e3,
            serde_json::to_string(&v["fields"]).unwrap_or_default()
        );
    }
}

async fn sys_run(sys: &ClaudeSys, log: &Log, kind: Kind) -> SysRun {
    let message = kind.message(&sys.claude.workdir.join("notes.txt"));
    let posted = std::time::SystemTime::now();
    let started = Instant::now();
    let (code, v) = sys
        .c
        .post(
            "/api/paliadin/turn",
            &serde_json::json!({ "user_message": message }),
        )
        .await;
    assert_eq!(code, 200, "post turn: {v}");
    let text = |k: &str| v[k].as_str().expect(k).to_owned();
    let (turn, sse) = (text("turn_id"), text("sse_url"));
    let conversation: Uuid = text("session_id").parse().expect("session_id");
    // When the reply file is published (the worker moves it to `done/` once the turn is
    // committed), then when Claude Code's transcript shows the turn's usage (what the worker
    // waits for before it finishes the turn): polled beside the stream.
    let files = {
        let spool = sys.rig.spool.clone();
        let name = format!("{turn}.md");
        let transcript = transcript_path(&sys.claude, conversation);
        let id: Uuid = turn.parse().expect("turn id");
        tokio::spawn(async move {
            let (here, done) = (spool.join(&name), spool.join("done").join(&name));
            let mut published = None;
            while started.elapsed() < LIMIT {
                if published.is_none() && (here.exists() || done.exists()) {
                    published = Some(started.elapsed());
                }
                if published.is_some()
                    && !paliadin_worker::usage::transcript::read(&transcript, id).is_empty()
                {
                    return published.map(|p| (p, started.elapsed()));
                }
                let pause = if published.is_some() { 5 } else { 1 };
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            None
        })
    };
    let (status, mut stream) = sys.c.open_stream(&sse, None).await;
    assert_eq!(status, 200, "stream");
    let end = loop {
        let ev = next_event(&mut stream, LIMIT.as_secs()).await;
        if ev.is_terminal() {
            if ev.event != "end" {
                panic!(
                    "turn {turn} ended with {} {}; the pane:\n{}",
                    ev.event,
                    ev.data,
                    sys.rig.screen(&sys.session())
                );
            }
            break started.elapsed();
        }
    };
    let (published, usage) = files
        .await
        .expect("poller")
        .expect("the reply was published, its usage in the transcript");
    trace(log, &turn, posted, (published, end));
    let turn: Uuid = turn.parse().expect("turn id");
    let (a, b, c): (f64, f64, f64) = sqlx::query_as(
        "SELECT EXTRACT(EPOCH FROM claimed_at - queued_at)::float8, \
                EXTRACT(EPOCH FROM delivered_at - claimed_at)::float8, \
                EXTRACT(EPOCH FROM finished_at - delivered_at)::float8 \
         FROM turns WHERE id = $1",
    )
    .bind(turn)
    .fetch_one(&sys.db.pool)
    .await
    .expect("turn times");
    sys_idle(sys).await;
    SysRun {
        end,
        published,
        usage,
        queued_claimed: a * 1e3,
        claimed_delivered: b * 1e3,
        delivered_finished: c * 1e3,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// p50 and p95 of `v` (ms).
fn p50_p95(v: &[f64]) -> (f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = match n % 2 {
        1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    };
    (median, percentile(&v, 0.95))
}

fn row(what: &str, kind: Kind, v: &[f64]) -> f64 {
    let (p50, p95) = p50_p95(v);
    let each: Vec<String> = v.iter().map(|x| format!("{x:.0}")).collect();
    println!(
        "| {what} | {} | {} | {p50:.0} | {p95:.0} | {} |",
        kind.label(),
        v.len(),
        each.join(", ")
    );
    p50
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("PALIADIN_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .clamp(1, 30);
    let began = Instant::now();
    let load_before = load();
    let scratch = std::env::temp_dir().join(format!("paliadin-turn-bench-{}", std::process::id()));
    let python_dir: PathBuf = scratch.join("python-hooks");
    let wanted = std::env::var("PALIADIN_BENCH_PYTHON").map_or(true, |v| v != "0");
    let python = if wanted && Path::new("/usr/bin/python3").exists() {
        python_hooks(&python_dir)
    } else {
        None
    };
    if wanted && python.is_none() {
        println!("(no Python hooks in this checkout's history, or no /usr/bin/python3)");
    }

    let mut panes = Vec::new();
    let mut variants = vec![
        (Hooks::None, "Claude Code alone (no hooks)".to_owned()),
        (Hooks::Noop, "Claude Code + no-op hooks (`true`)".to_owned()),
        (Hooks::Compiled, "Claude Code + `paliadin-hook`".to_owned()),
    ];
    if let Some(commit) = &python {
        variants.push((
            Hooks::Python,
            format!("Claude Code + Python hooks ({commit}, /usr/bin/python3)"),
        ));
    }
    for (hooks, label) in variants {
        let Some(pane) = Pane::start(hooks, &python_dir).await else {
            return;
        };
        panes.push((label, pane));
    }
    let Some((sys, log)) = start_system().await else {
        return;
    };
    // The system's first turn starts its agent: not measured.
    for kind in [Kind::Plain, Kind::Tools] {
        let _ = sys_run(&sys, &log, kind).await;
    }
    eprintln!("set up in {:.0?}", began.elapsed());

    let kinds = [Kind::Plain, Kind::Tools];
    // [kind][pane] runs, [kind] system runs.
    let mut pane_runs: Vec<Vec<Vec<PaneRun>>> = kinds
        .iter()
        .map(|_| panes.iter().map(|_| Vec::new()).collect())
        .collect();
    let mut sys_runs: Vec<Vec<SysRun>> = kinds.iter().map(|_| Vec::new()).collect();
    for i in 0..n {
        for (k, kind) in kinds.iter().enumerate() {
            for (p, (_, pane)) in panes.iter().enumerate() {
                pane_runs[k][p].push(pane.run(*kind).await);
            }
            sys_runs[k].push(sys_run(&sys, &log, *kind).await);
        }
        eprintln!("run {} of {n} done, {:.0?}", i + 1, began.elapsed());
    }

    println!(
        "\nA turn of the real Claude Code on the scripted model, {n} runs per row (ms)\n\
         load average before: {load_before}; after: {}\n",
        load()
    );
    println!("| setup | what | turn | n | p50 | p95 | each |");
    println!("|---|---|---|---|---|---|---|");
    let mut alone = [0.0; 2];
    let mut hooked = [0.0; 2];
    let mut noop = [0.0; 2];
    let mut system = [0.0; 2];
    for (k, kind) in kinds.iter().enumerate() {
        for (p, (label, pane)) in panes.iter().enumerate() {
            let runs = &pane_runs[k][p];
            let of = |f: &dyn Fn(&PaneRun) -> Option<Duration>| -> Vec<f64> {
                runs.iter().filter_map(f).map(ms).collect()
            };
            if matches!(pane.hooks, Hooks::None | Hooks::Noop) {
                let p50 = row(
                    &format!("{label} | Enter → reply written"),
                    *kind,
                    &of(&|r| Some(r.reply)),
                );
                if pane.hooks == Hooks::None {
                    alone[k] = p50;
                } else {
                    noop[k] = p50;
                }
                continue;
            }
            row(
                &format!("{label} | Enter → receipt"),
                *kind,
                &of(&|r| r.receipt),
            );
            let reply = row(
                &format!("{label} | Enter → reply published"),
                *kind,
                &of(&|r| Some(r.reply)),
            );
            if pane.hooks == Hooks::Compiled {
                hooked[k] = reply;
            }
            row(
                &format!("{label} | Enter → Stop done"),
                *kind,
                &of(&|r| r.stop),
            );
        }
        let runs = &sys_runs[k];
        let label = "Paliadin (API + worker + `paliadin-hook`)";
        system[k] = row(
            &format!("{label} | POST → `end` event"),
            *kind,
            &runs.iter().map(|r| ms(r.end)).collect::<Vec<_>>(),
        );
        row(
            &format!("{label} | POST → reply published"),
            *kind,
            &runs.iter().map(|r| ms(r.published)).collect::<Vec<_>>(),
        );
        row(
            &format!("{label} | reply published → usage in Claude's transcript"),
            *kind,
            &runs
                .iter()
                .map(|r| ms(r.usage) - ms(r.published))
                .collect::<Vec<_>>(),
        );
        row(
            &format!("{label} | reply published → `end` event"),
            *kind,
            &runs
                .iter()
                .map(|r| ms(r.end) - ms(r.published))
                .collect::<Vec<_>>(),
        );
        row(
            &format!("{label} | queued → claimed"),
            *kind,
            &runs.iter().map(|r| r.queued_claimed).collect::<Vec<_>>(),
        );
        row(
            &format!("{label} | claimed → delivered (receipt)"),
            *kind,
            &runs.iter().map(|r| r.claimed_delivered).collect::<Vec<_>>(),
        );
        row(
            &format!("{label} | delivered → finished"),
            *kind,
            &runs
                .iter()
                .map(|r| r.delivered_finished)
                .collect::<Vec<_>>(),
        );
    }
    // Per run (i): Enter → reply of each pane, POST → end of the system.
    let series = |hooks: Hooks| -> Vec<Vec<f64>> {
        let p = panes
            .iter()
            .position(|(_, pane)| pane.hooks == hooks)
            .expect("pane");
        (0..2)
            .map(|k| pane_runs[k][p].iter().map(|r| ms(r.reply)).collect())
            .collect()
    };
    let base = series(Hooks::None);
    let sys_end: Vec<Vec<f64>> = (0..2)
        .map(|k| sys_runs[k].iter().map(|r| ms(r.end)).collect())
        .collect();
    println!(
        "\nAdded time, ms: the difference of the p50s, and the median of the per-run differences \
         (run i of each setup ran next to the others, so a change of load cancels out)\n"
    );
    println!(
        "| comparison | plain: Δp50 / paired | {TOOLS} tool calls: Δp50 / paired | per tool call: Δp50 / paired |"
    );
    println!("|---|---|---|---|");
    let compare = |what: &str, p50: [f64; 2], runs: &[Vec<f64>]| {
        let d: Vec<Vec<f64>> = (0..2)
            .map(|k| runs[k].iter().zip(&base[k]).map(|(a, b)| a - b).collect())
            .collect();
        let per_tool: Vec<f64> = d[1]
            .iter()
            .zip(&d[0])
            .map(|(t, p)| (t - p) / TOOLS as f64)
            .collect();
        let (d0, d1) = (p50[0] - alone[0], p50[1] - alone[1]);
        println!(
            "| {what} | {d0:.0} / {:.0} | {d1:.0} / {:.0} | {:.1} / {:.1} |",
            p50_p95(&d[0]).0,
            p50_p95(&d[1]).0,
            (d1 - d0) / TOOLS as f64,
            p50_p95(&per_tool).0
        );
    };
    compare(
        "Paliadin (POST → end) − alone (Enter → reply)",
        system,
        &sys_end,
    );
    compare(
        "`paliadin-hook` pane − alone (Enter → reply)",
        hooked,
        &series(Hooks::Compiled),
    );
    compare(
        "no-op hooks − alone: Claude Code running hooks at all (Enter → reply)",
        noop,
        &series(Hooks::Noop),
    );
    println!("\nwall time: {:.0?}", began.elapsed());
    drop(sys);
    drop(panes);
    let _ = std::fs::remove_dir_all(&scratch);
}

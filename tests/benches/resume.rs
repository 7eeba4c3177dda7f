//! What a resumed conversation costs with the real Claude Code (issue 21, "Measure"; figures
//! printed, never asserted; recorded in `docs/performance.md`, "Resume"). The whole system
//! ([`ClaudeSys`]: the API, one `paliadin-worker`, Claude Code on the scripted model) runs:
//!
//! 1. conversation A gets 20 turns through the system (every fourth one reads a file with the
//!    `Read` tool); the RSS of its idle agent is read after turn 3 and turn 20 (and of C's
//!    after its resumes);
//! 2. `claimed_at → delivered_at` of a turn (claim, agent started, paste, Enter, the prompt
//!    hook's receipt) for: a new conversation; A resumed from its local transcript; A resumed
//!    after its local transcript was deleted (the worker restores it from PostgreSQL); C, whose
//!    transcript was made 201 turns long (its own first turn, then A's 20 turns repeated ten
//!    times with fresh uuids and ids — running 200 real turns takes too long). Before each
//!    measured turn the idle agent is SIGKILLed, so each one starts an agent;
//! 3. the transcript copy after each turn and the restores, from the worker's own `transcript
//!    copied` / `transcript restored` log lines (bytes, ms).
//!
//! Run: `deploy/ensure-claude.sh && PALIADIN_TEST_ADMIN_URL=… cargo bench --profile dev -p
//! paliadin-e2e --bench resume` (`PALIADIN_BENCH_N` repetitions per case, default 3; with
//! `target/debug` binaries built). Skips, loudly, where Claude Code could not be installed
//! ([`Claude::setup`]).

use paliadin_api::config::ApiConfig;
use paliadin_e2e::claude::Claude;
use paliadin_e2e::claude_sys::ClaudeSys;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, user};
use paliadin_e2e::procs::{TmuxRig, binary};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

/// The worker's JSON log lines, kept.
type Log = Arc<Mutex<Vec<Value>>>;

async fn start() -> Option<(ClaudeSys, Log)> {
    let rig = TmuxRig::new();
    let claude = Claude::setup(&rig).await?;
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "owner@resume", Role::Owner).await;
    let mut env = claude.worker_env();
    // PALIADIN_BENCH_LOG: another filter for the worker's log (e.g. its tmux layer at debug).
    let filter = std::env::var("PALIADIN_BENCH_LOG");
    env.push((
        "RUST_LOG",
        filter.unwrap_or_else(|_| "warn,paliadin_worker=info".to_owned()),
    ));
    env.push(("PALIADIN_LOG_JSON", "1".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut cmd = tokio::process::Command::new(binary("paliadin-worker"));
    cmd.stderr(Stdio::piped());
    let mut worker = rig.worker_via(cmd, &db.url, "resume-bench", &env);
    let log: Log = Log::default();
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

/// Sends `message` (in `conversation`, else a new one), reads it to its end; the turn and its
/// conversation.
async fn say(sys: &ClaudeSys, conversation: Option<Uuid>, message: &str) -> (Uuid, Uuid) {
    let mut body = json!({ "user_message": message });
    if let Some(c) = conversation {
        body["session_id"] = json!(c);
    }
    let (s, v) = sys.c.post("/api/paliadin/turn", &body).await;
    assert_eq!(s, 200, "{v}");
    let evs = sys
        .c
        .stream_all(v["sse_url"].as_str().expect("sse_url"), None, 120)
        .await;
    sys.assert_end(&evs, message);
    let id = |k: &str| v[k].as_str().and_then(|s| s.parse().ok()).expect(k);
    (id("turn_id"), id("session_id"))
}

/// A new conversation, as the page's "New conversation" starts one.
async fn new_conversation(sys: &ClaudeSys) -> Uuid {
    let (s, v) = sys.c.post("/api/paliadin/reset", &json!({})).await;
    assert_eq!(s, 200, "{v}");
    v["session_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("session_id")
}

/// `claimed_at → delivered_at` of a turn, in ms.
async fn claim_to_delivered(sys: &ClaudeSys, turn: Uuid) -> f64 {
    let secs: f64 = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM delivered_at - claimed_at)::float8 FROM turns WHERE id = $1",
    )
    .bind(turn)
    .fetch_one(&sys.db.pool)
    .await
    .expect("turn times");
    secs * 1000.0
}

/// Waits until Claude has ended its turn (its Stop hook removed the busy marker).
async fn idle(sys: &ClaudeSys) {
    paliadin_e2e::wait_until(60, "Claude finished its turn", || {
        let gone = !sys.rig.busy(&sys.session());
        async move { gone }
    })
    .await;
}

/// Kills the session's agent once it is idle, so the next turn has to start one.
async fn stop_agent(sys: &ClaudeSys) {
    idle(sys).await;
    if sys.rig.agent_pid(&sys.session()).is_some() {
        sys.rig.kill_agent(&sys.session());
    }
}

/// Claude's transcript file of `conversation` under the agent's HOME.
fn transcript(sys: &ClaudeSys, conversation: Uuid) -> PathBuf {
    let slug: String = sys
        .claude
        .workdir
        .display()
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    sys.claude
        .home
        .join(".claude/projects")
        .join(slug)
        .join(format!("{conversation}.jsonl"))
}

/// The transcript's size: (lines, bytes).
fn size(path: &Path) -> (usize, u64) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    (text.lines().count(), text.len() as u64)
}

/// VmRSS (KiB) of `pid` and of every process under it.
fn tree_rss_kib(pid: u32) -> (u64, u64, usize) {
    let rss = |p: u32| -> u64 {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    };
    let mut parent: HashMap<u32, u32> = HashMap::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid …; comm may hold spaces, so read after its last ')'.
        let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
        if let Some(pp) = after.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            parent.insert(p, pp);
        }
    }
    let under = |mut p: u32| loop {
        if p == pid {
            return true;
        }
        match parent.get(&p) {
            Some(&pp) if pp != 0 && pp != p => p = pp,
            _ => return false,
        }
    };
    let tree: Vec<u32> = parent.keys().copied().filter(|p| under(*p)).collect();
    (rss(pid), tree.iter().map(|p| rss(*p)).sum(), tree.len())
}

/// Rewrites a transcript's lines as a fresh copy: every uuid and message/request/tool id
/// replaced (the same old value → the same new one), the conversation id set to `to`, and a
/// first entry without a parent chained to `parent`. Returns the lines and the last uuid.
fn fresh_copy(
    lines: &[Value],
    from: Uuid,
    to: Uuid,
    parent: Option<String>,
) -> (Vec<String>, Option<String>) {
    fn walk(v: &mut Value, map: &mut HashMap<String, String>, from: &str, to: &str) {
        match v {
            Value::Object(o) => o.values_mut().for_each(|x| walk(x, map, from, to)),
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, map, from, to)),
            Value::String(s) if s == from => *s = to.to_owned(),
            Value::String(s) => {
                let new = if Uuid::try_parse(s).is_ok() {
                    Some(Uuid::new_v4().to_string())
                } else {
                    ["msg_", "req_", "toolu_"]
                        .into_iter()
                        .find(|p| s.starts_with(p))
                        .map(|p| format!("{p}{}", Uuid::new_v4().simple()))
                };
                if let Some(new) = new {
                    *s = map.entry(s.clone()).or_insert(new).clone();
                }
            }
            _ => {}
        }
    }
    let (from, to) = (from.to_string(), to.to_string());
    let mut map = HashMap::new();
    let mut last = parent;
    let mut out = Vec::new();
    for line in lines {
        let mut v = line.clone();
        walk(&mut v, &mut map, &from, &to);
        if v.get("parentUuid").is_some_and(Value::is_null)
            && v.get("uuid").is_some()
            && let Some(p) = &last
        {
            v["parentUuid"] = json!(p);
        }
        if let Some(u) = v.get("uuid").and_then(Value::as_str) {
            last = Some(u.to_owned());
        }
        out.push(v.to_string());
    }
    (out, last)
}

/// The worker's log records with `message`, for `conversation`: (bytes, ms).
fn logged(log: &Log, message: &str, conversation: Uuid) -> Vec<(u64, u64)> {
    let conv = conversation.to_string();
    log.lock()
        .expect("log")
        .iter()
        .filter(|v| v["fields"]["message"].as_str() == Some(message))
        .filter(|v| v["fields"]["conversation"].as_str() == Some(conv.as_str()))
        .filter_map(|v| Some((v["fields"]["bytes"].as_u64()?, v["fields"]["ms"].as_u64()?)))
        .collect()
}

/// [`claim_to_delivered`], printing (stderr) how the delivery was confirmed and the worker's log
/// lines of the turn up to it: the phases of a slow one.
async fn measured(sys: &ClaudeSys, log: &Log, turn: Uuid) -> f64 {
    let ms = claim_to_delivered(sys, turn).await;
    eprintln!(
        "turn {turn}: claim → delivered {ms:.0} ms, {}",
        confirmed(log, turn)
    );
    let id = turn.to_string();
    for v in log.lock().expect("log").iter() {
        let in_turn = v["span"]["turn_id"].as_str() == Some(id.as_str());
        if in_turn {
            let f = &v["fields"];
            eprintln!(
                "    {} {}",
                v["timestamp"].as_str().unwrap_or("?"),
                serde_json::to_string(f).unwrap_or_default()
            );
        }
        if in_turn && v["fields"]["message"].as_str() == Some("delivered") {
            break;
        }
    }
    ms
}

/// How the worker's delivery of `turn` was confirmed (its `delivered` log line): `Ack { enters:
/// 1 }` when the prompt hook's receipt followed the first Enter; each further Enter came after
/// `ack_timeout` (2 s) without one.
fn confirmed(log: &Log, turn: Uuid) -> String {
    let id = turn.to_string();
    log.lock()
        .expect("log")
        .iter()
        .filter(|v| v["fields"]["message"].as_str() == Some("delivered"))
        .find(|v| v["span"]["turn_id"].as_str() == Some(id.as_str()))
        .and_then(|v| v["fields"]["confirmed"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn row(case: &str, transcript: &str, ms: &[f64]) {
    let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ms.iter().copied().fold(0.0, f64::max);
    let each: Vec<String> = ms.iter().map(|m| format!("{m:.0}")).collect();
    println!(
        "| {case} | {transcript} | {} | {:.0} | {min:.0} | {max:.0} | {} |",
        ms.len(),
        median(ms),
        each.join(", ")
    );
}

#[tokio::main]
async fn main() {
    let Some((sys, log)) = start().await else {
        return;
    };
    let n: usize = std::env::var("PALIADIN_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .clamp(1, 10);
    let began = Instant::now();
    let notes = sys.claude.workdir.join("notes.txt");

    // 1. Conversation A: 20 turns through the system.
    let mut a = None;
    let mut rss = Vec::new();
    for i in 1..=20 {
        let message = if i % 4 == 0 {
            format!("tools 2 {}", notes.display())
        } else {
            format!("turn {i} of conversation A: tell me something about the number {i}")
        };
        let (_, conv) = say(&sys, a, &message).await;
        assert!(a.is_none_or(|a| a == conv), "A's turns stay in A");
        a = Some(conv);
        if i == 3 || i == 20 {
            idle(&sys).await;
            // Let Claude settle after its Stop hook (its last transcript write, its GC).
            tokio::time::sleep(Duration::from_secs(2)).await;
            let pid = sys.rig.agent_pid(&sys.session()).expect("the agent");
            rss.push((format!("{i} (A)"), tree_rss_kib(pid)));
        }
    }
    let a = a.expect("conversation A");
    let a_path = transcript(&sys, a);
    let a_20 = std::fs::read_to_string(&a_path).expect("A's transcript after 20 turns");
    let a_size = size(&a_path);
    eprintln!("A: 20 turns in {:.0?}", began.elapsed());

    println!("\nResume with the real Claude Code, claim → delivered ({n} runs per case)\n");
    println!(
        "| case | transcript (lines, bytes) | n | claimed_at → delivered_at p50 ms | min | max | each |"
    );
    println!("|---|---|---|---|---|---|---|");

    // 2a. A new conversation (the agent of the previous one killed first).
    let mut ms = Vec::new();
    for i in 0..n {
        stop_agent(&sys).await;
        let fresh = new_conversation(&sys).await;
        let (turn, _) = say(
            &sys,
            Some(fresh),
            &format!("a new conversation, number {i}"),
        )
        .await;
        ms.push(measured(&sys, &log, turn).await);
    }
    row("new conversation (`--session-id`)", "none", &ms);

    // 2b. A resumed from its local transcript.
    let mut per_copy = 0;
    let mut ms = Vec::new();
    let mut sizes = Vec::new();
    for i in 0..n {
        stop_agent(&sys).await;
        sizes.push(size(&a_path));
        let (turn, _) = say(&sys, Some(a), &format!("back in A, resume {i}")).await;
        ms.push(measured(&sys, &log, turn).await);
        if i == 0 {
            let context = sys.claude.server.context_of(turn);
            per_copy = context.matches("turn 5 of conversation A").count();
        }
    }
    let span = |s: &[(usize, u64)]| {
        let (f, l) = (s.first().expect("size"), s.last().expect("size"));
        format!("{}–{} lines, {}–{} B", f.0, l.0, f.1, l.1)
    };
    let turns = |from: usize| format!("{from}–{} turns", from + n - 1);
    row(
        &format!("resume, 20-turn transcript ({})", turns(20)),
        &span(&sizes),
        &ms,
    );

    // 2c. A resumed after its transcript was deleted: restored from PostgreSQL first.
    let mut ms = Vec::new();
    let mut sizes = Vec::new();
    for i in 0..n {
        stop_agent(&sys).await;
        sizes.push(size(&a_path));
        std::fs::remove_file(&a_path).expect("delete A's transcript");
        let (turn, _) = say(&sys, Some(a), &format!("restored A, resume {i}")).await;
        ms.push(measured(&sys, &log, turn).await);
    }
    row(
        &format!(
            "resume, transcript restored from PostgreSQL ({})",
            turns(20 + n)
        ),
        &span(&sizes),
        &ms,
    );

    // 2d. C: its first turn, then its transcript made 201 turns long.
    stop_agent(&sys).await;
    let c = new_conversation(&sys).await;
    say(&sys, Some(c), "conversation C begins").await;
    stop_agent(&sys).await;
    assert_ne!(a, c, "C is a conversation of its own");
    let c_path = transcript(&sys, c);
    let c_own = std::fs::read_to_string(&c_path).expect("C's transcript");
    let parse = |t: &str| -> Vec<Value> {
        t.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let own = parse(&c_own);
    let mut last = own
        .iter()
        .rev()
        .find_map(|v| v.get("uuid").and_then(Value::as_str).map(str::to_owned));
    let template = parse(&a_20);
    let mut text = c_own.clone();
    for _ in 0..10 {
        let (lines, l) = fresh_copy(&template, a, c, last);
        last = l;
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
    }
    std::fs::write(&c_path, &text).expect("C's long transcript");
    let mut ms = Vec::new();
    let mut sizes = Vec::new();
    let mut seen_copies = Vec::new();
    for i in 0..n {
        stop_agent(&sys).await;
        sizes.push(size(&c_path));
        let (turn, _) = say(&sys, Some(c), &format!("back in C, resume {i}")).await;
        ms.push(measured(&sys, &log, turn).await);
        // How many of the ten copies of A's turn 5 the model was sent: all, or a compaction.
        let seen = sys
            .claude
            .server
            .context_of(turn)
            .matches("turn 5 of conversation A")
            .count();
        seen_copies.push(seen);
    }
    idle(&sys).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = sys.rig.agent_pid(&sys.session()).expect("the agent");
    rss.push((format!("{} (C, 201 before)", 201 + n), tree_rss_kib(pid)));
    row(
        &format!(
            "resume, 200-turn transcript (1 real + 200 synthesised; {})",
            turns(201)
        ),
        &span(&sizes),
        &ms,
    );
    println!(
        "\nA's transcript after its 20 built turns: {} lines, {} bytes",
        a_size.0, a_size.1
    );
    println!(
        "A's turn 5 is named {per_copy} time(s) in the model's request for A's first resume, \
         {seen_copies:?} times in those for C's resumes (10 × {per_copy}: the whole \
         synthesised transcript reached the model)"
    );

    // 3. The copies and restores, from the worker's log.
    let copies = logged(&log, "transcript copied", a);
    let restores = logged(
        &log,
        "transcript restored from the database before the agent resumes",
        a,
    );
    let c_copies = logged(&log, "transcript copied", c);
    println!("\nTranscript copy after each turn, conversation A (worker's log lines)\n");
    println!("| copy | n | bytes p50 | bytes max | ms p50 | ms max | ms each |");
    println!("|---|---|---|---|---|---|---|");
    let stat = |what: &str, v: &[(u64, u64)]| {
        let b: Vec<f64> = v.iter().map(|x| x.0 as f64).collect();
        let m: Vec<f64> = v.iter().map(|x| x.1 as f64).collect();
        let each: Vec<String> = v.iter().map(|x| x.1.to_string()).collect();
        println!(
            "| {what} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {} |",
            v.len(),
            median(&b),
            b.iter().copied().fold(0.0, f64::max),
            median(&m),
            m.iter().copied().fold(0.0, f64::max),
            each.join(", ")
        );
    };
    let built = copies.len().min(20);
    stat("A: copy after turns 1–20", &copies[..built]);
    stat("A: copy after the resumed turns", &copies[built..]);
    stat("A: restore before a resume", &restores);
    stat(
        "C: copy after each turn (the second holds the 200 synthesised turns)",
        &c_copies,
    );

    println!("\nIdle Claude Code agent, RSS (VmRSS of the pane's process and its tree)\n");
    println!(
        "| after turn (conversation) | agent KiB | tree KiB | processes | agents per GiB (tree) |"
    );
    println!("|---|---|---|---|---|");
    for (turn, (own, tree, procs)) in rss {
        println!(
            "| {turn} | {own} | {tree} | {procs} | {:.1} |",
            1024.0 * 1024.0 / tree as f64
        );
    }
    println!("\nwall time: {:.0?}", began.elapsed());
}

//! Delivery timing against the real Claude Code TUI (figures printed, not asserted; recorded in
//! `docs/claude-code.md`): how soon after a paste an Enter is taken. For each delay between the
//! paste and the Enter (0, 10, 50, 150 ms) and each shape (one line; five lines with a TAB; 20 KB)
//! it runs N trials in a warm session: paste through a buffer as the worker does, wait the
//! delay, one Enter, then count whether the prompt hook's receipt (`.ack`) arrived within 3 s,
//! and how long after the Enter. Between trials it waits for the turn's reply and for Claude to
//! be idle again (its busy marker gone), as the worker does.
//!
//! Run: `deploy/ensure-claude.sh && cargo bench --profile dev -p paliadin-e2e --bench
//! claude_delivery` (`PALIADIN_BENCH_N` trials per cell, default 10).

use paliadin_e2e::claude::Claude;
use paliadin_e2e::procs::TmuxRig;
use paliadin_shared::SessionName;
use paliadin_worker::tmux::{Sessions, Tmux, TmuxConfig, deliver};
use std::path::Path;
use std::time::{Duration, Instant};
use uuid::Uuid;

const SESSION: &str = "paliadin-bench01";

/// Waits for `path` to exist, polling every 2 ms; the time it took, or None after `limit`.
async fn appears(path: &Path, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if path.exists() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

async fn gone(path: &Path, limit: Duration) {
    let start = Instant::now();
    while path.exists() && start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// As the worker does before a paste: the busy marker gone, then a quiet screen (100 ms).
async fn settle(tmux: &Tmux, spool: &Path) {
    gone(
        &spool.join(format!(".busy-{SESSION}")),
        Duration::from_secs(30),
    )
    .await;
    let sessions = Sessions::new(tmux.clone(), Duration::ZERO);
    let s = SessionName::parse(SESSION).expect("name");
    let quiet = Duration::from_millis(100);
    sessions
        .wait_ready(&s, quiet, quiet * 20)
        .await
        .expect("quiet screen");
}

/// One trial: true when the first Enter was taken; the Enter → receipt time.
async fn trial(tmux: &Tmux, spool: &Path, text: &str, delay: Duration) -> (bool, Option<Duration>) {
    let turn = Uuid::new_v4();
    let pane = format!("={SESSION}:");
    let envelope = format!("[PALIADIN:{turn}] {text}");
    deliver::paste(tmux, &pane, turn, &envelope)
        .await
        .expect("paste");
    tokio::time::sleep(delay).await;
    deliver::key(tmux, &pane, "Enter").await.expect("enter");
    let ack = spool.join(format!("{turn}.ack"));
    let took = appears(&ack, Duration::from_secs(3)).await;
    if std::env::var_os("PALIADIN_BENCH_DEBUG").is_some() {
        let screen = deliver::capture(tmux, &pane).await.unwrap_or_default();
        eprintln!("--- after Enter ({took:?}):\n{}", screen.trim_end());
    }
    if took.is_none() {
        // Not taken: submit it anyway so the next trial starts clean.
        deliver::key(tmux, &pane, "Enter").await.expect("enter");
        if appears(&ack, Duration::from_secs(10)).await.is_none() {
            let screen = deliver::capture(tmux, &pane).await.unwrap_or_default();
            panic!("no receipt after a second Enter; the pane:\n{screen}");
        }
    }
    appears(&spool.join(format!("{turn}.md")), Duration::from_secs(30))
        .await
        .expect("reply");
    settle(tmux, spool).await;
    (took.is_some(), took)
}

#[tokio::main]
async fn main() {
    let rig = TmuxRig::new();
    let Some(claude) = Claude::setup(&rig).await else {
        return;
    };
    let n: usize = std::env::var("PALIADIN_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    // As the worker does: commands on the control-mode client, the paste through a file.
    let tmux = Tmux::new("tmux", Some(rig.socket.clone())).with_paste_dir(rig.spool.join(".paste"));
    // The session as the worker creates it (spool, session name and working directory).
    let mut cfg = TmuxConfig::from_agent_cmd(&claude.agent_cmd).expect("agent command");
    cfg.spool_dir = rig.spool.clone();
    cfg.workdir = claude.workdir.clone();
    let name = SessionName::parse(SESSION).expect("name");
    let sessions = Sessions::new(tmux.clone(), Duration::ZERO);
    let conversation = Uuid::new_v4();
    let mode = paliadin_worker::tmux::launch::Mode::Start;
    sessions
        .create(&name, &cfg, conversation, mode)
        .await
        .expect("new-session");
    // Warm up: the first prompt, with Enter retried until it is taken.
    let warm = Uuid::new_v4();
    let pane = format!("={SESSION}:");
    deliver::paste(&tmux, &pane, warm, &format!("[PALIADIN:{warm}] warm up"))
        .await
        .unwrap();
    let ack = rig.spool.join(format!("{warm}.ack"));
    while appears(&ack, Duration::from_millis(1000)).await.is_none() {
        deliver::key(&tmux, &pane, "Enter").await.unwrap();
    }
    appears(
        &rig.spool.join(format!("{warm}.md")),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    settle(&tmux, &rig.spool).await;

    let shapes = [
        ("one line", "a short question?".to_owned()),
        (
            "5 lines + TAB",
            "line one\nline\ttwo\nthree\nfour\nfive".to_owned(),
        ),
        ("20 KB", "twenty kilobytes of text. ".repeat(800)),
    ];
    println!("Claude Code delivery: paste, delay, one Enter; {n} trials per cell");
    println!("| shape | delay | first Enter taken | Enter → receipt p50 | max |");
    println!("|---|---|---|---|---|");
    for (name, text) in &shapes {
        for delay_ms in [0u64, 10, 50, 150] {
            let mut taken = 0;
            let mut times = Vec::new();
            for _ in 0..n {
                let (ok, took) =
                    trial(&tmux, &rig.spool, text, Duration::from_millis(delay_ms)).await;
                taken += usize::from(ok);
                times.extend(took);
            }
            times.sort();
            let ms = |d: &Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
            let p50 = times.get(times.len() / 2).map_or("-".into(), ms);
            let max = times.last().map_or("-".into(), ms);
            println!("| {name} | {delay_ms} ms | {taken}/{n} | {p50} | {max} |");
        }
    }
}

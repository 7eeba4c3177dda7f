//! SSH transport figures (printed, not asserted) for `docs/performance.md`, "SSH":
//! - one round trip (`ping`) over the persistent channel, over a local host agent without ssh (the
//!   protocol's own share), and with one `ssh` process per request (handshake every time);
//! - a warm `/echo` turn with the demo agent: local tmux, remote over the persistent channel,
//!   and remote with one `ssh host tmux …` process per step (the seed's design: check, load,
//!   paste, Enter, then poll the reply file), each step like `TmuxHost` does them.
//!
//! Run: `cargo build --bins && cargo bench --profile dev -p paliadin-e2e --bench ssh_roundtrip`
//! (the binaries it starts are taken from the profile's directory, so build them with the same
//! profile; `PALIADIN_BENCH_N` sets the number of round trips, default 1000).

use async_trait::async_trait;
use paliadin_e2e::procs::{TmuxRig, binary};
use paliadin_e2e::sshd::SshHost;
use paliadin_shared::{SessionName, UserMessage};
use paliadin_worker::driver::local::{LocalConfig, LocalDriver};
use paliadin_worker::driver::ssh::SshDriver;
use paliadin_worker::driver::{Driver, Progress, TurnControl, TurnSpec};
use paliadin_worker::host_agent::proto::Op;
use paliadin_worker::ssh::{Link, LinkOptions, SshTarget};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

struct Quiet;

#[async_trait]
impl Progress for Quiet {
    async fn delivered(&self) {}
    async fn content(&self, _: &str) {}
    async fn activity(&self, _: &str) {}
    async fn waiting(&self, _: &str) {}
    async fn permission(
        &self,
        _: u32,
        _: &paliadin_shared::domain::permission::PermissionAsk,
    ) -> Option<paliadin_shared::domain::permission::PermissionAnswer> {
        None
    }
}

/// `(p50, p99, mean)` in milliseconds.
fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: usize| ms(v[(v.len() * q / 100).min(v.len() - 1)]);
    let mean = v.iter().map(|d| ms(*d)).sum::<f64>() / v.len() as f64;
    (at(50), at(99), mean)
}

fn row(what: &str, n: usize, v: Vec<Duration>) -> f64 {
    let (p50, p99, mean) = stats(v);
    println!("| {what} | {n} | {p50:.2} | {p99:.2} | {mean:.2} |");
    p50
}

async fn pings(link: &Link, n: usize) -> Vec<Duration> {
    let conn = link.get(Duration::from_secs(15)).await.expect("connected");
    for _ in 0..50 {
        conn.call(Op::Ping, Duration::from_secs(5))
            .await
            .expect("ping");
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        conn.call(Op::Ping, Duration::from_secs(5))
            .await
            .expect("ping");
        v.push(t.elapsed());
    }
    v
}

/// One ssh process: connect, read the hello, one ping, read its answer, hang up.
async fn ssh_once(args: &[String]) -> Duration {
    let t = Instant::now();
    let mut child = Command::new("ssh")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    lines.next_line().await.unwrap().expect("hello");
    stdin
        .write_all(b"{\"id\":1,\"op\":\"ping\"}\n")
        .await
        .unwrap();
    lines.next_line().await.unwrap().expect("pong");
    drop(stdin);
    child.wait().await.unwrap();
    t.elapsed()
}

fn spec(session: &str, n: usize) -> TurnSpec {
    TurnSpec {
        turn_id: uuid::Uuid::now_v7(),
        user_id: uuid::Uuid::new_v4(),
        session: SessionName::parse(session).unwrap(),
        conversation: paliadin_e2e::procs::conversation_of(session),
        message: UserMessage::parse(&format!("/echo bench turn {n}")).unwrap(),
        already_delivered: false,
        resume: false,
        timeout: Duration::from_secs(30),
        uploads: Vec::new(),
    }
}

async fn turns(driver: &dyn Driver, session: &str, n: usize) -> Vec<Duration> {
    let control = TurnControl::default();
    driver
        .run_turn(&spec(session, 0), &Quiet, &control)
        .await
        .expect("cold turn");
    let mut v = Vec::with_capacity(n);
    for i in 1..=n {
        let t = Instant::now();
        driver
            .run_turn(&spec(session, i), &Quiet, &control)
            .await
            .expect("turn");
        v.push(t.elapsed());
    }
    v
}

/// A warm turn driven like the seed: one `ssh host <command>` process per step.
async fn turn_per_step(host: &SshHost, args: &[String], session: &str, n: usize) -> Duration {
    let remote = |cmd: String, input: Option<String>| {
        let args = args.to_vec();
        async move {
            let mut c = Command::new("ssh");
            c.args(&args)
                .arg(cmd)
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            c.stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
            let mut child = c.spawn().expect("ssh");
            if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
                stdin.write_all(text.as_bytes()).await.unwrap();
            }
            child.wait_with_output().await.unwrap()
        }
    };
    let s = spec(session, n);
    let tmux = format!("tmux -u -L {}", host.rig.socket);
    let pane = format!("={session}:");
    let buffer = format!("bench-{}", s.turn_id.simple());
    let reply = host.rig.spool.join(format!("{}.md", s.turn_id));
    let t = Instant::now();
    remote(
        format!("{tmux} display-message -p -t '{pane}' '#{{session_name}}'"),
        None,
    )
    .await;
    let envelope = format!("[PALIADIN:{}] {}", s.turn_id, s.message.as_str());
    remote(format!("{tmux} load-buffer -b {buffer} -"), Some(envelope)).await;
    remote(
        format!("{tmux} paste-buffer -p -d -r -b {buffer} -t '{pane}'"),
        None,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    remote(format!("{tmux} send-keys -t '{pane}' Enter"), None).await;
    loop {
        let out = remote(format!("cat {}", reply.display()), None).await;
        if out.status.success() {
            break;
        }
    }
    t.elapsed()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("PALIADIN_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let host = SshHost::start("bench");
    let target = SshTarget::parse(&host.url()).expect("url");
    let link = Link::start("bench", target, LinkOptions::default());
    let local_host_agent = TmuxRig::new();
    let (socket, spool) = (
        local_host_agent.socket.clone(),
        local_host_agent.spool.clone(),
    );
    let pipe = Link::start_with(
        "pipe",
        move || {
            let mut c = Command::new(binary("paliadin-shim"));
            c.arg("serve")
                .env("PALIADIN_TMUX_SOCKET", &socket)
                .env("PALIADIN_SPOOL_DIR", &spool)
                .env("RUST_LOG", "warn");
            c
        },
        LinkOptions::default(),
    );
    println!("\n| figure (ms) | n | p50 | p99 | mean |\n|---|---|---|---|---|");
    row("`ping`, persistent SSH channel", n, pings(&link, n).await);
    row(
        "`ping`, host agent on a local pipe (no ssh)",
        n,
        pings(&pipe, n).await,
    );
    let per = 30;
    let mut v = Vec::new();
    for _ in 0..per {
        v.push(ssh_once(&host.ssh_args()).await);
    }
    let per_process = row("`ping`, one `ssh` process per request", per, v);

    let k = 20;
    let rig = TmuxRig::new();
    let mut cfg = LocalConfig::new(vec![binary("paliadin-demo-agent").display().to_string()]);
    cfg.socket = Some(rig.socket.clone());
    cfg.spool_dir = rig.spool.clone();
    let local = LocalDriver::new(cfg).expect("local driver");
    let local_p50 = row(
        "warm `/echo` turn, local tmux",
        k,
        turns(&local, "bench-local", k).await,
    );
    let remote = SshDriver::with_link(
        Link::start(
            "bench",
            SshTarget::parse(&host.url()).unwrap(),
            LinkOptions::default(),
        ),
        Duration::from_secs(15),
    );
    let remote_p50 = row(
        "warm `/echo` turn, remote, persistent channel",
        k,
        turns(&remote, "bench-remote", k).await,
    );
    // The per-step session exists and is warm: one turn through the channel created it.
    turns(&remote, "bench-steps", 1).await;
    let args = host.ssh_args_with(&host.unrestricted_key());
    let mut v = Vec::new();
    for i in 0..k {
        v.push(turn_per_step(&host, &args, "bench-steps", i).await);
    }
    let steps_p50 = row("warm `/echo` turn, remote, one `ssh` per step", k, v);
    println!(
        "\nremote overhead per turn (p50 − local p50): persistent channel {:.1} ms; one ssh per step {:.1} ms \
         (one ssh process ≈ {per_process:.0} ms)",
        remote_p50 - local_p50,
        steps_p50 - local_p50
    );
}

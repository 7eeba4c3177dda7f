//! `docs/operations.md` under a real systemd: a Debian bookworm container booted with
//! `systemd-nspawn` ([`paliadin_e2e::nspawn`]) gets the two built packages with `apt-get install
//! ./paliadin_*.deb ./paliadin-host_*.deb` (their dependencies resolved by apt), PostgreSQL from
//! Debian's package, and the guide's install steps as written: the environment file, `migrate`,
//! `user add`, `systemctl enable --now paliadin-api paliadin-worker@{1..2}`, both doctors as the
//! `paliadin` user. From the host (the container shares its network; every service listens on
//! a free loopback port) an owner posts turns with the token and follows them over SSE, while:
//!
//! - `systemctl stop` on the worker running a long turn: the turn is handed over and finished
//!   by the other worker, and the stop is clean;
//! - `systemctl restart paliadin-api` during a stream: the client resumes with `Last-Event-ID`,
//!   nothing lost or repeated;
//! - `systemctl kill -s KILL` on the worker running a turn: the unit's policy restarts it and
//!   the turn still ends.
//!
//! No turn fails. Then: `journalctl -u paliadin-api` holds the structured (JSON) request logs,
//! the sandbox holds (`sandbox`), and `apt-get remove` / `purge` leave what the guide says.
//! A second test adds a remote tmux host on a second container and fails over from it
//! (`remote_host`).

mod remote_host;
mod sandbox;

use futures::StreamExt;
use paliadin_e2e::http::{Client, SseEvent, read_to_terminal, read_until};
use paliadin_e2e::nspawn::Container;
use paliadin_e2e::packages::{self, Scratch};
use paliadin_e2e::units;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The installed system, as the test reaches it from the host.
struct Site {
    c: Container,
    db: PgPool,
    owner: Client,
    base: String,
}

/// PostgreSQL from Debian's package (in the image) gets a cluster on `port`, a role and a
/// database for Paliadin; returns its `DATABASE_URL`.
async fn postgres(c: &Container, port: u16) -> String {
    let password = Uuid::new_v4().simple().to_string();
    c.run(&format!(
        "pg_createcluster 15 main --port {port} --start >/dev/null && \
         runuser -u postgres -- psql -qX -c \"CREATE ROLE paliadin LOGIN PASSWORD '{password}'\" \
           -c 'CREATE DATABASE paliadin OWNER paliadin'"
    ))
    .await;
    format!("postgres://paliadin:{password}@127.0.0.1:{port}/paliadin")
}

/// docs/operations.md, "Install from the packages", step by step.
async fn install(c: &Container, debs: &[std::path::PathBuf]) -> (String, String, String) {
    for deb in debs {
        c.copy_in(
            deb,
            &format!("/root/{}", deb.file_name().unwrap().to_string_lossy()),
        );
    }
    // paliadin-host pulls in openssh-server, which starts at once: on the shared network it
    // must not take the host's port 22.
    let ssh_port = free_port();
    c.run(&format!(
        "mkdir -p /etc/ssh/sshd_config.d && printf 'Port {ssh_port}\\nListenAddress 127.0.0.1\\n' \
         >/etc/ssh/sshd_config.d/paliadin-tests.conf"
    ))
    .await;
    let t = Instant::now();
    let out = c
        .run(
            "cd /root && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
             ./paliadin_*.deb ./paliadin-host_*.deb 2>&1",
        )
        .await;
    eprintln!("apt-get install: {:.1} s", t.elapsed().as_secs_f64());
    // The declared dependencies came from the archive, not from the image.
    for dep in ["tmux", "openssh-server", "python3"] {
        assert!(
            out.contains(&format!("Setting up {dep} ")),
            "{dep} not installed:\n{out}"
        );
    }
    let env = c.run("stat -c '%U:%G %a' /etc/paliadin/paliadin.env").await;
    assert_eq!(env.trim(), "root:paliadin 640");

    let url = postgres(c, free_port()).await;
    let api_port = free_port();
    // The environment file: at least DATABASE_URL; a loopback listener on a free port, JSON
    // logs, and short grace and lease so that the handovers below take seconds.
    c.run(&format!(
        "sed -i 's|^DATABASE_URL=.*|DATABASE_URL={url}|; s|^PALIADIN_BIND=.*|PALIADIN_BIND=127.0.0.1:{api_port}|' \
           /etc/paliadin/paliadin.env && \
         printf 'PALIADIN_LOG_JSON=1\\nPALIADIN_SHUTDOWN_GRACE_SECS=2\\nPALIADIN_LEASE_SECS=6\\n' \
           >>/etc/paliadin/paliadin.env"
    ))
    .await;
    let out = c
        .run(
            "set -a; . /etc/paliadin/paliadin.env; set +a
             paliadin-api migrate >/dev/null
             paliadin-api user add --email you@example.com --role owner
             systemctl enable --now paliadin-api paliadin-worker@{1..2} >/dev/null 2>&1",
        )
        .await;
    let token = out.lines().last().expect("token").trim().to_owned();
    (url, format!("http://127.0.0.1:{api_port}"), token)
}

async fn ready(base: &str) {
    let http = reqwest::Client::new();
    paliadin_e2e::wait_until(30, "the API answers /readyz", || {
        let r = http.get(format!("{base}/readyz")).send();
        async move { r.await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
}

/// The worker running `turn`, once it runs.
async fn holder(db: &PgPool, turn: &str) -> String {
    let id = Uuid::parse_str(turn).unwrap();
    let q = "SELECT worker_id FROM turns WHERE id = $1 AND state = 'running'";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let w: Option<Option<String>> = sqlx::query_scalar(q)
            .bind(id)
            .fetch_optional(db)
            .await
            .unwrap();
        if let Some(Some(w)) = w {
            return w;
        }
        assert!(Instant::now() < deadline, "turn {turn} never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `paliadin-worker@N` of worker id `<hostname>-N`.
fn unit_of(worker: &str) -> String {
    format!("paliadin-worker@{}", worker.rsplit('-').next().unwrap())
}

async fn show(c: &Container, unit: &str, prop: &str) -> String {
    let out = c
        .run(&format!("systemctl show -p {prop} --value {unit}"))
        .await;
    out.trim().to_owned()
}

/// Stop the worker running a long turn: the turn moves to the other worker and ends.
async fn stop_hands_over(s: &Site) {
    let (turn, sse) = s.owner.turn("/slow 8000 outlasts the grace").await;
    let from = holder(&s.db, &turn).await;
    let unit = unit_of(&from);
    let t = Instant::now();
    s.c.run(&format!("systemctl stop {unit}")).await;
    eprintln!("systemctl stop {unit}: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(
        show(&s.c, &unit, "Result").await,
        "success",
        "{unit} stopped uncleanly"
    );
    let evs = s.owner.stream_all(&sse, None, 60).await;
    assert_eq!(evs.last().map(|e| e.event.as_str()), Some("end"), "{evs:?}");
    let (by, releases): (String, i32) =
        sqlx::query_as("SELECT worker_id, releases FROM turns WHERE id = $1")
            .bind(Uuid::parse_str(&turn).unwrap())
            .fetch_one(&s.db)
            .await
            .unwrap();
    assert!(
        by != from && releases >= 1,
        "not handed over: {by}, {releases} releases"
    );
    eprintln!("handed over from {from} to {by}");
    s.c.run(&format!("systemctl start {unit}")).await;
}

/// Restart the API while a reply streams: the client resumes after the last event it saw.
async fn restart_resumes(s: &Site) {
    let (_, sse) = s.owner.turn("/stream 160").await;
    let (status, mut stream) = s.owner.open_stream(&sse, None).await;
    assert_eq!(status, 200);
    let mut seen: Vec<SseEvent> = read_until(&mut stream, "content", 30).await;
    s.c.run("systemctl restart paliadin-api").await;
    // The old stream delivers what was sent before the stop, then ends without a terminal event.
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
        seen.push(ev);
    }
    assert!(
        !seen.iter().any(SseEvent::is_terminal),
        "the turn ended before the restart: make it longer"
    );
    let cut = seen.len();
    ready(&s.base).await;
    let last = seen.last().unwrap().id;
    let (status, mut resumed) = s.owner.open_stream(&sse, Some(last)).await;
    assert_eq!(status, 200);
    seen.extend(read_to_terminal(&mut resumed, 60).await);
    let ids: Vec<i32> = seen.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        (1..=ids.len() as i32).collect::<Vec<_>>(),
        "lost or repeated"
    );
    assert_eq!(seen.last().unwrap().event, "end");
    assert_eq!(
        seen,
        s.owner.stream_all(&sse, None, 30).await,
        "differs from a replay"
    );
    eprintln!(
        "restart during a stream: {cut} events before, {} after",
        seen.len() - cut
    );
}

/// SIGKILL the worker running a turn: systemd restarts it, the turn still ends.
async fn kill_restarts(s: &Site) {
    let (turn, sse) = s.owner.turn("/slow 3000 survives a SIGKILL").await;
    let unit = unit_of(&holder(&s.db, &turn).await);
    let (pid, restarts) = (
        show(&s.c, &unit, "MainPID").await,
        show(&s.c, &unit, "NRestarts").await,
    );
    s.c.run(&format!("systemctl kill -s KILL {unit}")).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while show(&s.c, &unit, "NRestarts").await == restarts
        || show(&s.c, &unit, "ActiveState").await != "active"
    {
        assert!(Instant::now() < deadline, "{unit} was not restarted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(show(&s.c, &unit, "MainPID").await, pid);
    let evs = s.owner.stream_all(&sse, None, 90).await;
    assert_eq!(evs.last().map(|e| e.event.as_str()), Some("end"), "{evs:?}");
    eprintln!("{unit} killed and restarted by systemd; the turn ended");
}

/// Both doctors pass as the service user; the API's journal holds JSON request logs.
async fn doctors_and_journal(s: &Site) {
    let api = s
        .c
        .run("runuser -u paliadin -- sh -c 'set -a; . /etc/paliadin/paliadin.env; exec paliadin-api doctor'")
        .await;
    assert!(api.contains("ok   database migrated"), "{api}");
    // docs/operations.md's line, verbatim.
    let worker = s
        .c
        .run(
            "runuser -u paliadin -- sh -c 'set -a; . /etc/paliadin/paliadin.env; HOME=/var/lib/paliadin \
             PALIADIN_TMUX_SOCKET=/var/lib/paliadin/tmux/tmux.sock \
             PALIADIN_SPOOL_DIR=/var/lib/paliadin/spool exec paliadin-worker doctor'",
        )
        .await;
    assert!(
        worker.contains("ok   agent command: /usr/bin/paliadin-demo-agent"),
        "{worker}"
    );
    let journal =
        s.c.run("journalctl -u paliadin-api -o cat --no-pager")
            .await;
    let requests = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            v["fields"]["message"] == "request finished"
                && v["span"]["path"] == "/api/paliadin/turn"
        })
        .count();
    assert!(requests >= 3, "no structured request logs:\n{journal}");
}

/// `apt-get remove` stops the units and keeps settings and state; `purge` deletes both; the
/// user stays.
async fn remove_and_purge(c: &Container) {
    c.run("DEBIAN_FRONTEND=noninteractive apt-get remove -y -q paliadin >/dev/null")
        .await;
    let left = c
        .run(
            "for u in paliadin-api paliadin-worker@1 paliadin-worker@2 paliadin-tmux; do \
               systemctl is-active $u || true; done; \
             test ! -e /usr/bin/paliadin-api && test -e /etc/paliadin/paliadin.env && \
             test -d /var/lib/paliadin/spool && getent passwd paliadin >/dev/null && echo kept",
        )
        .await;
    assert_eq!(
        left.split_whitespace().collect::<Vec<_>>(),
        ["inactive"; 4]
            .iter()
            .copied()
            .chain(["kept"])
            .collect::<Vec<_>>()
    );
    c.run("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q paliadin >/dev/null")
        .await;
    c.run(
        "test ! -e /etc/paliadin/paliadin.env && test ! -e /var/lib/paliadin && \
         getent passwd paliadin >/dev/null",
    )
    .await;
}

/// Both packages, packed from the debug binaries: `[paliadin, paliadin-host]`.
fn build_debs(scratch: &Scratch) -> Vec<std::path::PathBuf> {
    ["paliadin-api", "paliadin-worker"]
        .into_iter()
        .map(|k| packages::build(&units::workspace(), k, &scratch.0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_runs_under_systemd_through_stop_restart_and_kill() {
    if !packages::available() {
        return;
    }
    let started = Instant::now();
    let scratch = Scratch::new("systemd-boot");
    let debs = build_debs(&scratch);
    let Some(c) = Container::boot("ops") else {
        return;
    };
    let (url, base, token) = install(&c, &debs).await;
    ready(&base).await;
    eprintln!(
        "installed and running after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let s = Site {
        db: PgPool::connect(&url)
            .await
            .expect("the container's PostgreSQL"),
        owner: Client::new(&base, Some(&token)),
        base,
        c,
    };
    let (_, sse) = s.owner.turn("hello from the host").await;
    paliadin_e2e::http::assert_streamed_reply(&s.owner.stream_all(&sse, None, 30).await);

    stop_hands_over(&s).await;
    restart_resumes(&s).await;
    kill_restarts(&s).await;
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM turns WHERE state <> 'succeeded'")
        .fetch_one(&s.db)
        .await
        .unwrap();
    assert_eq!(failed, 0, "turns that did not succeed");
    doctors_and_journal(&s).await;
    sandbox::check(&s.c).await;
    s.db.close().await;
    remove_and_purge(&s.c).await;
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_host_in_a_second_container_serves_and_fails_over() {
    if !packages::available() {
        return;
    }
    let started = Instant::now();
    let scratch = Scratch::new("systemd-remote");
    remote_host::run(&build_debs(&scratch)).await;
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
}

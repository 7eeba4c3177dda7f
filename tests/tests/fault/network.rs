//! Fault scenario 4, with real processes (API in-process, `paliadin-worker` binaries, sshd +
//! `paliadin-shim` + the demo agent, real tmux), every turn audited against the agent's
//! receipts and the event tables (`paliadin_e2e::fault::audit`):
//! - **SSH cut** mid-turn (the worker's ssh client or the host's sshd session killed, once the
//!   turn is claimed, delivered or streaming): the worker reconnects, the turn succeeds once,
//!   the next turn works;
//! - **tmux server killed** mid-turn, on a remote host and on the local one: the turn ends
//!   `error session_lost` (or `end`, if the reply came first), the next turn starts a fresh
//!   session and is answered;
//! - **network partition** of a worker from the database (the worker in its own network
//!   namespace, reaching PostgreSQL through a veth): the cut-off worker lets go of its turn
//!   before its lease runs out — before another worker claims it — and does nothing to the
//!   agent afterwards, not even once the partition heals; the other worker finishes the turn
//!   exactly once; the healed worker serves the next turn.
//!
//! `PALIADIN_FAULT_TRIALS` sets the cuts, restarts and partitions per test (default 3).

use paliadin_api::config::ApiConfig;
use paliadin_e2e::db::TestDb;
use paliadin_e2e::fault::{Audit, audit, signal, trials};
use paliadin_e2e::http::{Client, SseEvent, next_event, user};
use paliadin_e2e::partition::Partitioned;
use paliadin_e2e::procs::{TmuxRig, session_of};
use paliadin_e2e::sshd::{SshHost, children_named, kill, wait_host, worker};
use paliadin_e2e::system::start_api;
use paliadin_shared::db::users::Role;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A point of a turn: its name, and the first event at which it is reached.
type Point = (&'static str, fn(&SseEvent) -> bool);

/// The points of a turn a fault hits.
const POINTS: [Point; 3] = [
    ("claimed", |e| e.data["state"] == "claimed"),
    ("delivered", |e| e.data["state"] == "delivered"),
    ("streaming", |e| e.event == "content"),
];

/// Reads `stream` until an event satisfies `at` (or the turn ends); returns what it read.
async fn until(
    stream: &mut (impl futures::Stream<Item = SseEvent> + Unpin),
    at: fn(&SseEvent) -> bool,
) -> Vec<SseEvent> {
    let mut seen = vec![next_event(stream, 60).await];
    while !at(seen.last().unwrap()) && !seen.last().unwrap().is_terminal() {
        seen.push(next_event(stream, 60).await);
    }
    seen
}

/// Posts a turn and reads it to its end; returns its id and last event.
async fn answered(c: &Client, msg: &str) -> (Uuid, SseEvent) {
    let (id, sse) = c.turn(msg).await;
    let evs = c.stream_all(&sse, None, 60).await;
    (Uuid::parse_str(&id).unwrap(), evs.last().unwrap().clone())
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The ssh clients of a worker process.
fn ssh_clients(w: &tokio::process::Child) -> Vec<u32> {
    children_named(w.id().expect("worker pid"), "ssh")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_cut_mid_turn_reconnects_and_every_turn_ends_once() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (_, token) = user(&db, "cut@x", Role::Owner).await;
    let h1 = SshHost::start("h1");
    let w = worker(&db.url, "net-ssh", &h1.entry(), &[]);
    wait_host(&db, "h1", true, 20).await;
    let c = Client::new(&api.base, Some(&token));
    let (n, mut ids, mut slowest) = (trials(3), Vec::new(), Duration::ZERO);
    for t in 0..n {
        let (point, at) = POINTS[t % POINTS.len()];
        let (id, sse) = c.turn(&format!("/stream 20 cut {t}")).await;
        let (_, mut stream) = c.open_stream(&sse, None).await;
        let mut seen = until(&mut stream, at).await;
        let before = ssh_clients(&w);
        assert_eq!(before.len(), 1, "one ssh connection: {before:?}");
        let cut = Instant::now();
        if t % 2 == 0 {
            kill(before[0]);
        } else {
            h1.kill_sessions();
        }
        while !seen.last().unwrap().is_terminal() {
            seen.push(next_event(&mut stream, 60).await);
        }
        slowest = slowest.max(cut.elapsed());
        assert_eq!(
            seen.last().unwrap().event,
            "end",
            "cut at {point}: {seen:?}"
        );
        ids.push(Uuid::parse_str(&id).unwrap());
        let (next, end) = answered(&c, &format!("/echo after cut {t}")).await;
        assert_eq!(end.event, "end", "the turn after the cut: {end:?}");
        ids.push(next);
        let reconnected = ssh_clients(&w);
        assert!(
            reconnected.len() == 1 && reconnected != before,
            "{before:?} → {reconnected:?}"
        );
    }
    let found = audit(&db, &h1.rig, &ids).await;
    eprintln!(
        "scenario 4a: {n} SSH cuts (points {:?}), slowest cut → end {}, {found:?}",
        POINTS.map(|p| p.0),
        secs(slowest)
    );
    assert!(found.clean(), "{found:?}");
}

/// Kills the tmux server of `rig` while a turn of `c` runs, `n` times; each time the next turn
/// must be answered in a fresh session. Returns the audit (the killed turns that failed
/// `session_lost` count as `lost`), how many failed so, and the slowest kill → end.
async fn restarts(
    db: &TestDb,
    c: &Client,
    rig: &TmuxRig,
    session: &str,
    n: usize,
) -> (Audit, usize, Duration) {
    let (mut ids, mut session_lost, mut slowest) = (Vec::new(), 0, Duration::ZERO);
    for t in 0..n {
        let (point, at) = POINTS[1 + t % 2];
        let (id, sse) = c.turn(&format!("/stream 40 restart {t}")).await;
        let (_, mut stream) = c.open_stream(&sse, None).await;
        let mut seen = until(&mut stream, at).await;
        let killed = Instant::now();
        let ok = std::process::Command::new("tmux")
            .args(["-L", &rig.socket, "kill-server"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "tmux kill-server");
        while !seen.last().unwrap().is_terminal() {
            seen.push(next_event(&mut stream, 60).await);
        }
        slowest = slowest.max(killed.elapsed());
        let end = seen.last().unwrap();
        match (end.event.as_str(), end.data["code"].as_str()) {
            ("end", _) => {}
            ("error", Some("session_lost")) => session_lost += 1,
            _ => panic!("tmux killed at {point}: not a documented outcome: {seen:?}"),
        }
        ids.push(Uuid::parse_str(&id).unwrap());
        let (next, end) = answered(c, &format!("/echo after restart {t}")).await;
        assert_eq!(end.event, "end", "the turn after the restart: {end:?}");
        assert!(rig.has_session(session), "no fresh session");
        ids.push(next);
    }
    (audit(db, rig, &ids).await, session_lost, slowest)
}

fn assert_restarts(label: &str, n: usize, (found, lost, slowest): (Audit, usize, Duration)) {
    eprintln!(
        "scenario 4b ({label}): {n} tmux server kills, {lost} turns ended session_lost, \
         slowest kill → end {}, {found:?}",
        secs(slowest)
    );
    let expected = Audit {
        turns: 2 * n,
        lost,
        ..Audit::default()
    };
    assert_eq!(
        found, expected,
        "only the killed turns may fail, with session_lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_tmux_server_killed_mid_turn_ends_it_and_the_next_turn_starts_fresh() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "remote@x", Role::Owner).await;
    let h1 = SshHost::start("h1");
    let _w = worker(&db.url, "net-tmux-r", &h1.entry(), &[]);
    wait_host(&db, "h1", true, 20).await;
    let c = Client::new(&api.base, Some(&token));
    let n = trials(3);
    let found = restarts(&db, &c, &h1.rig, &session_of(&owner.id), n).await;
    assert_restarts("remote", n, found);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_tmux_server_killed_mid_turn_ends_it_and_the_next_turn_starts_fresh() {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "local@x", Role::Owner).await;
    let rig = TmuxRig::new();
    let _w = rig.worker(&db.url, "net-tmux-l");
    let c = Client::new(&api.base, Some(&token));
    let n = trials(3);
    let found = restarts(&db, &c, &rig, &session_of(&owner.id), n).await;
    assert_restarts("local", n, found);
}

/// When worker `w` claimed `turn` (its `claimed` event, written before it drives the agent):
/// how long after `cut` (Unix seconds), and how long after `let_go` (RFC 3339); and the
/// attempt it holds now.
async fn takeover(db: &TestDb, turn: Uuid, w: &str, cut: f64, let_go: &str) -> (f64, f64, i32) {
    sqlx::query_as(
        "SELECT extract(epoch FROM e.created_at)::float8 - $3,
                extract(epoch FROM e.created_at - $4::timestamptz)::float8, t.attempt
           FROM turn_events e JOIN turns t ON t.id = e.turn_id
          WHERE e.turn_id = $1 AND e.kind = 'status'
            AND e.data->>'state' = 'claimed' AND e.data->>'worker' = $2",
    )
    .bind(turn)
    .bind(w)
    .bind(cut)
    .bind(let_go)
    .fetch_one(&db.pool)
    .await
    .expect("the takeover's claimed event")
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// How a stale worker's turn task ends: let go (lost), or a result that was fenced out, or an
/// error of its own.
const TASK_ENDS: [&str; 3] = [
    "turn abandoned",
    "turn result fenced out",
    "turn failed inside the worker",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_partitioned_from_the_database_stops_acting_and_another_finishes_its_turn() {
    let db = TestDb::new().await;
    let rig = TmuxRig::new();
    let w1 = match Partitioned::start(&db, &rig, "net-cut", &[]).await {
        Ok(w) => w,
        Err(why) => {
            eprintln!("!!! SKIPPED fault::network partition (scenario 4c): {why}");
            return;
        }
    };
    let api = start_api(&db, ApiConfig::default()).await;
    let (owner, token) = user(&db, "part@x", Role::Owner).await;
    let c = Client::new(&api.base, Some(&token));
    let n = trials(3);
    let (mut ids, mut figures) = (Vec::new(), Vec::new());
    for t in 0..n {
        let (point, at) = POINTS[t % POINTS.len()];
        // 5 s of streaming: the partitioned worker's lease (3 s) runs out before the reply.
        let (id, sse) = c.turn(&format!("/stream 100 partition {t}")).await;
        let (_, mut stream) = c.open_stream(&sse, None).await;
        let mut seen = until(&mut stream, at).await;
        let first = seen.iter().find(|e| e.data["state"] == "claimed");
        assert_eq!(
            first.map(|e| &e.data["worker"]),
            Some(&w1.id.as_str().into())
        );
        w1.cut();
        let cut = unix_now();
        let uid = Uuid::parse_str(&id).unwrap();
        let held: i32 = sqlx::query_scalar("SELECT attempt FROM turns WHERE id = $1")
            .bind(uid)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let started = Instant::now();
        let w2_id = format!("net-w2-{t}");
        let mut w2 = rig.worker(&db.url, &w2_id);
        while !seen.last().unwrap().is_terminal() {
            seen.push(next_event(&mut stream, 60).await);
        }
        let ended = started.elapsed();
        assert_eq!(
            seen.last().unwrap().event,
            "end",
            "partition at {point}: {seen:?}"
        );
        // The cut-off worker noticed on its own, still cut off, before the other one claimed.
        let let_go = w1.wait_event(&id, held, &["lets go of the turn"], 10).await;
        let (claim_after_cut, margin, attempt) = takeover(&db, uid, &w2_id, cut, &let_go.at).await;
        assert!(attempt > 1, "attempt {attempt}");
        assert!(
            margin > 0.0,
            "partition at {point}: the cut-off worker let go {margin:.3} s after the takeover"
        );
        signal(&w2, "-TERM");
        w2.wait().await.expect("the second worker exits");
        // Healed, the stale turn task ends without touching the agent or its files.
        w1.heal();
        w1.wait_event(&id, held, &TASK_ENDS, 60).await;
        let evs = w1.events_of(&id);
        let from = evs.iter().position(|e| e.at == let_go.at).expect("let-go");
        for e in evs[from..]
            .iter()
            .filter(|e| e.attempt == Some(held.into()))
        {
            let acted = e.message == "delivered"
                || e.message.contains("turn finished")
                || (e.message.contains("turn ended without a reply")
                    && e.fields["error"] != "abandoned by this worker");
            assert!(
                !acted,
                "partition at {point}: acted after letting go: {e:?}"
            );
        }
        let screen = rig.screen(&session_of(&owner.id));
        // What the demo agent prints on Escape (running, queued or idle).
        let escaped = ["⏹ interrupt", "■ interrupted", "(interrupt:"];
        assert!(
            !escaped.iter().any(|s| screen.contains(s)),
            "an Escape reached the agent:\n{screen}"
        );
        figures.push((point, claim_after_cut, margin, ended.as_secs_f64()));
        ids.push(uid);
    }
    // The healed worker serves again.
    let (last, end) = answered(&c, "/echo healed").await;
    assert_eq!(end.event, "end", "{end:?}");
    ids.push(last);
    let found = audit(&db, &rig, &ids).await;
    let worst =
        |f: fn(&(&str, f64, f64, f64)) -> f64| figures.iter().map(f).fold(f64::NAN, f64::max);
    eprintln!(
        "scenario 4c: {n} partitions (points {:?}), takeover claim ≤ {:.2} s after the cut, \
         let-go ≥ {:.3} s before it, turn end ≤ {:.2} s after the cut; {found:?}; {figures:?}",
        POINTS.map(|p| p.0),
        worst(|f| f.1),
        figures.iter().map(|f| f.2).fold(f64::NAN, f64::min),
        worst(|f| f.3),
    );
    assert!(found.clean(), "{found:?}");
}

//! Pins per-owner isolation (issue 13, "High"; docs/security.md): with an `accounts://` host,
//! a `paliadin-worker` running as its own unprivileged account (with `DATABASE_URL` in its
//! environment and in a file of its own) drives each owner's demo agent through
//! `paliadin-shim serve --private`, started as that owner's agent account by `sudo` over a
//! pipe. Then a probe running as owner A's agent account (`tests/fixtures/isolation_probe.py`)
//! tries every move of the security review — list and read B's spool and `done/`, forge B's
//! reply, `tmux send-keys` into B's session, signal B's host agent and the worker, read the
//! worker's environment and memory and the file holding the database URL, find the URL in any
//! process it can read — and each is refused and changes nothing: B's next turn ends with its
//! true reply. A dropped pipe (the `sudo` process killed mid-answer) resumes like a dropped SSH
//! connection: the turn completes once, pasted once. The private host agent refuses to run as
//! root or with a home others can enter.
//!
//! Real accounts (useradd), real sudo, tmux, PostgreSQL and processes; needs root (CI runs as
//! root) and is skipped with a loud message otherwise.

use paliadin_api::config::ApiConfig;
use paliadin_e2e::accounts::{TestAccounts, is_root};
use paliadin_e2e::db::TestDb;
use paliadin_e2e::http::{Client, SseEvent, concat_deltas, next_event, user};
use paliadin_e2e::procs::session_of;
use paliadin_e2e::sshd::{children_of, kill, wait_host};
use paliadin_e2e::system::{Api, start_api};
use paliadin_e2e::wait_until;
use paliadin_shared::db::users::{Role, UserRow};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;

struct Rig {
    acc: TestAccounts,
    db: TestDb,
    _api: Api,
    worker: tokio::process::Child,
    /// `(user, client)` per owner, owner `i` on agent account `acc.agents[i]`.
    owners: Vec<(UserRow, Client)>,
    /// A file of the worker's account holding the database URL, as an env file would.
    secret_file: std::path::PathBuf,
}

fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    eprintln!(
        "\n*** SKIPPED {test}: creating agent accounts needs root (CI runs the suite as root) ***\n"
    );
    true
}

/// Two owners, their agent accounts, the account map and a worker running as its own account.
async fn start() -> Rig {
    let db = TestDb::new().await;
    let api = start_api(&db, ApiConfig::default()).await;
    let mut owners = Vec::new();
    for i in 0..2 {
        let (u, token) = user(&db, &format!("o{i}@x"), Role::Owner).await;
        owners.push((u, Client::new(&api.base, Some(&token))));
    }
    let ids: Vec<_> = owners.iter().map(|(u, _)| u.id).collect();
    let acc = TestAccounts::create(&ids);
    let secret_file = acc.dir.join("worker.env");
    std::fs::write(&secret_file, format!("DATABASE_URL={}\n", db.url)).unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let w = acc.uid(&acc.worker);
    std::os::unix::fs::chown(&secret_file, Some(w), Some(w)).ok();
    let hosts = format!(
        "iso=accounts://{}?shim={}",
        acc.map().display(),
        acc.bin("paliadin-shim").display()
    );
    let mut cmd: tokio::process::Command = acc
        .command_as(&acc.worker.clone(), &acc.bin("paliadin-worker"))
        .into();
    cmd.env("DATABASE_URL", &db.url)
        .env("PALIADIN_HOSTS", hosts)
        .env("PALIADIN_WORKER_ID", "iso-w")
        .env("PALIADIN_AGENT_CMD", acc.bin("paliadin-demo-agent"))
        .env("PALIADIN_LEASE_SECS", "3")
        .env("PALIADIN_POLL_MS", "200")
        .env("PALIADIN_SHUTDOWN_GRACE_SECS", "5")
        .env("PALIADIN_HOST_CONNECT_TIMEOUT_SECS", "5")
        .env("PALIADIN_SSH_KEEPALIVE_SECS", "2")
        .env(
            "RUST_LOG",
            std::env::var("PALIADIN_TEST_WORKER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let worker = cmd.spawn().expect("start the worker as its account");
    wait_host(&db, "iso", true, 30).await;
    Rig {
        acc,
        db,
        _api: api,
        worker,
        owners,
        secret_file,
    }
}

/// Runs a turn to its end; returns its id and events.
async fn turn(c: &Client, msg: &str) -> (String, Vec<SseEvent>) {
    let (id, sse) = c.turn(msg).await;
    (id, c.stream_all(&sse, None, 60).await)
}

/// The reply text of a finished turn (asserting it ended well).
fn reply(evs: &[SseEvent]) -> String {
    let end = evs.last().expect("events");
    assert_eq!(end.event, "end", "{evs:?}");
    end.data["text"].as_str().unwrap().to_owned()
}

/// Every file under `dir` with its content, as root sees it.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                let name = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(name, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

/// The host agent process (`paliadin-shim`) running as `account`.
fn host_agent_of(acc: &TestAccounts, account: &str) -> u32 {
    let uid = acc.uid(account);
    let pids: Vec<u32> = acc
        .processes()
        .into_iter()
        .filter(|&(pid, u)| u == uid && comm(pid) == "paliadin-shim")
        .map(|(pid, _)| pid)
        .collect();
    assert_eq!(pids.len(), 1, "one host agent per account: {pids:?}");
    pids[0]
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// `tmux` as `account` on its own server.
/// `tmux` as `account`, on that account's own Paliadin tmux server.
fn tmux_as(acc: &TestAccounts, account: &str, args: &[&str]) -> std::process::Output {
    acc.command_as(account, Path::new("/usr/bin/tmux"))
        .arg("-S")
        .arg(acc.tmux_socket(account))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `tests/fixtures/isolation_probe.py` as `account`; returns its findings.
fn probe(acc: &TestAccounts, account: &str, config: &Value) -> Value {
    let out = acc
        .command_as(account, Path::new("/usr/bin/python3"))
        .arg("-c")
        .arg(include_str!("../../fixtures/isolation_probe.py"))
        .arg(config.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "probe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("probe JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owners_agent_reaches_nothing_of_another_owner_or_of_the_worker() {
    if skip_unless_root("an_owners_agent_reaches_nothing_of_another_owner_or_of_the_worker") {
        return;
    }
    let rig = start().await;
    let (acc, (a, b)) = (&rig.acc, (&rig.acc.agents[0], &rig.acc.agents[1]));
    let (ua, ca) = &rig.owners[0];
    let (ub, cb) = &rig.owners[1];
    let (_, evs) = turn(ca, "/echo A's own words").await;
    assert!(reply(&evs).starts_with("A's own words\nsha256: "));
    let (b_turn, evs) = turn(cb, "/echo B's private words").await;
    assert!(reply(&evs).starts_with("B's private words\nsha256: "));

    // Where things live: the worker runs as its account, each agent and its files as its own.
    let worker_pid = rig.worker.id().expect("worker pid");
    let status = std::fs::read_to_string(format!("/proc/{worker_pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let w_uid = acc.uid(&acc.worker).to_string();
    assert!(
        uid_line.split_whitespace().skip(1).all(|u| u == w_uid),
        "{uid_line}"
    );
    for (account, u) in [(a, ua), (b, ub)] {
        let spool = acc.spool(account);
        let meta = std::fs::metadata(&spool).unwrap();
        assert_eq!((meta.uid(), meta.mode() & 0o777), (acc.uid(account), 0o700));
        let out = tmux_as(
            acc,
            account,
            &["has-session", "-t", &format!("={}", session_of(&u.id))],
        );
        assert!(
            out.status.success(),
            "no session on {account}'s own tmux server"
        );
    }
    // The worker settles a turn (its files move to `done/`) just after committing its end.
    let settled = acc.spool(b).join("done").join(format!("{b_turn}.md"));
    wait_until(10, "B's turn settled into done/", || async {
        settled.exists()
    })
    .await;
    // The installer let each agent read and write its own spool without asking, nothing else.
    for account in [a, b] {
        let settings = acc.home(account).join(".claude/settings.json");
        let settings: Value =
            serde_json::from_str(&std::fs::read_to_string(settings).unwrap()).unwrap();
        let spool = acc.spool(account).display().to_string();
        let allow = settings["permissions"]["allow"].as_array().unwrap();
        assert!(!allow.is_empty());
        for rule in allow {
            assert!(
                rule.as_str().unwrap().contains(&format!("/{spool}/**")),
                "{rule}"
            );
        }
        assert_eq!(
            settings["permissions"]["additionalDirectories"],
            json!([spool])
        );
    }
    let b_host_agent = host_agent_of(acc, b);

    // The probe, as A's agent account, tries every move.
    let before = snapshot(&acc.spool(b));
    let config = json!({
        "own_spool": acc.spool(a),
        "other_home": acc.home(b),
        "other_spool": acc.spool(b),
        "other_turn": b_turn,
        "other_socket": acc.tmux_socket(b),
        "other_session": session_of(&ub.id),
        "other_host_agent_pid": b_host_agent,
        "worker_pid": worker_pid,
        "secret_files": [rig.secret_file],
        "database_url": rig.db.url,
    });
    let found = probe(acc, a, &config);
    let moves = found["moves"].as_object().unwrap();
    assert_eq!(moves["own_spool"]["ok"], true, "the control move: {found}");
    let allowed: Vec<_> = moves
        .iter()
        .filter(|(name, m)| *name != "own_spool" && m["ok"] == true)
        .collect();
    assert!(allowed.is_empty(), "A's agent could: {allowed:?}");
    assert_eq!(moves.len(), 15, "{found}");
    assert_eq!(found["leaks"], json!([]), "the database URL is readable");

    // Nothing changed: B's spool is as it was, B's pane holds no forged text, and B's next turn
    // ends with its true reply.
    assert_eq!(snapshot(&acc.spool(b)), before, "B's spool changed");
    let screen = tmux_as(
        acc,
        b,
        &[
            "capture-pane",
            "-p",
            "-t",
            &format!("={}:", session_of(&ub.id)),
        ],
    );
    assert!(!String::from_utf8_lossy(&screen.stdout).contains("evil"));
    let (_, evs) = turn(cb, "/echo B again").await;
    let text = reply(&evs);
    assert!(text.starts_with("B again\nsha256: "), "{text}");
    assert_eq!(concat_deltas(&evs), text);

    // The probe does see what is there to see: as the worker's own account (where every agent
    // runs in the single-trust `local` mode) it reads the URL and the file holding it.
    let found = probe(acc, &acc.worker, &config);
    assert_ne!(found["leaks"], json!([]), "{found}");
    assert_eq!(found["moves"]["read_secret_file_0"]["ok"], true, "{found}");
    assert_eq!(found["moves"]["read_worker_environ"]["ok"], true, "{found}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_pipe_to_an_agent_account_resumes_and_the_turn_completes_once() {
    if skip_unless_root("a_dropped_pipe_to_an_agent_account_resumes_and_the_turn_completes_once") {
        return;
    }
    let rig = start().await;
    let (acc, a) = (&rig.acc, &rig.acc.agents[0]);
    let (_, c) = &rig.owners[0];
    let (id, sse) = c.turn("/stream 30 a long story").await;
    let (_, mut stream) = c.open_stream(&sse, None).await;
    let mut seen = vec![next_event(&mut stream, 30).await];
    while seen.last().unwrap().event != "content" {
        seen.push(next_event(&mut stream, 30).await);
    }
    // The worker's one pipe: its `sudo` child.
    let helpers = children_of(rig.worker.id().unwrap());
    assert_eq!(helpers.len(), 1, "{helpers:?}");
    kill(helpers[0]);
    while !seen.last().unwrap().is_terminal() {
        seen.push(next_event(&mut stream, 30).await);
    }
    let text = reply(&seen);
    assert_eq!(concat_deltas(&seen), text, "{seen:?}");
    let delivered = seen
        .iter()
        .filter(|e| e.data["state"] == "delivered")
        .count();
    assert_eq!(delivered, 1, "{seen:?}");
    // Counted once the turn's files have settled into done/ (not while they move).
    let settled = acc.spool(a).join("done").join(format!("{id}.ack"));
    wait_until(10, "the turn settled into done/", || async {
        settled.exists()
    })
    .await;
    let acks: usize = [acc.spool(a), acc.spool(a).join("done")]
        .iter()
        .filter_map(|d| std::fs::read_to_string(d.join(format!("{id}.ack"))).ok())
        .map(|s| s.lines().count())
        .sum();
    assert_eq!(acks, 1, "the message was pasted more than once");
    let now = children_of(rig.worker.id().unwrap());
    assert!(
        now.len() == 1 && now[0] != helpers[0],
        "no new pipe: {now:?}"
    );
}

#[test]
fn the_private_host_agent_refuses_root_and_a_home_others_can_enter() {
    if skip_unless_root("the_private_host_agent_refuses_root_and_a_home_others_can_enter") {
        return;
    }
    let acc = TestAccounts::create(&[uuid::Uuid::new_v4()]);
    let host_agent = acc.bin("paliadin-shim");
    let serve = |cmd: &mut std::process::Command| {
        let out = cmd
            .args(["serve", "--private"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = serve(std::process::Command::new(&host_agent).env("HOME", "/root"));
    assert!(err.contains("refusing to run agents as root"), "{err}");
    let agent = &acc.agents[0];
    std::fs::set_permissions(acc.home(agent), std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = serve(&mut acc.command_as(agent, &host_agent));
    assert!(err.contains("open to group or others"), "{err}");
}

//! `paliadin-api doctor` and `paliadin-worker doctor` report each failure they claim to detect —
//! database down, unmigrated, tmux missing, a spool directory others can read, an unreachable
//! SSH host, an account map others can write — as a `fail` line with its fix and exit 1, and
//! pass (exit 0) on a healthy setup; a
//! live host agent over SSH on loopback is reported `ok` with its version and protocol.

use paliadin_e2e::db::TestDb;
use paliadin_e2e::procs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `bin doctor` with `env` (PALIADIN_* of the outer environment removed); returns
/// (exit code, stdout).
fn doctor(bin: &str, env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(procs::binary(bin));
    cmd.arg("doctor");
    for (k, _) in std::env::vars() {
        if k.starts_with("PALIADIN_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run doctor");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{text}"))
}

/// A private directory for one test, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!(
            "paliadin-doctor-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spool(dir: &Dir, mode: u32) -> PathBuf {
    let s = dir.0.join("spool");
    std::fs::create_dir_all(&s).unwrap();
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(mode)).unwrap();
    s
}

fn demo_agent() -> String {
    procs::binary("paliadin-demo-agent").display().to_string()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn database_down_fails() {
    let (code, out) = doctor(
        "paliadin-api",
        &[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nothing")],
    );
    assert_eq!(code, 1, "{out}");
    assert!(line(&out, "fail database reachable:").contains("fix: start PostgreSQL"));
    // The worker says the same.
    let (code, out) = doctor(
        "paliadin-worker",
        &[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nothing")],
    );
    assert_eq!(code, 1, "{out}");
    line(&out, "fail database reachable:");
}

#[tokio::test]
async fn unmigrated_database_fails() {
    let db = TestDb::empty().await;
    let (code, out) = doctor("paliadin-api", &[("DATABASE_URL", &db.url)]);
    assert_eq!(code, 1, "{out}");
    line(&out, "ok   database reachable:");
    assert!(line(&out, "fail database migrated:").contains("run `paliadin-api migrate`"));
    line(&out, "fail pgmq installed:");
}

#[tokio::test]
async fn healthy_setup_passes() {
    let db = TestDb::new().await;
    let (code, out) = doctor("paliadin-api", &[("DATABASE_URL", &db.url)]);
    assert_eq!(code, 0, "{out}");
    for check in [
        "database reachable",
        "pgmq installed",
        "database migrated",
        "LISTEN/NOTIFY",
        "clock skew",
    ] {
        line(&out, &format!("ok   {check}:"));
    }
    let dir = Dir::new("ok");
    let spool = spool(&dir, 0o700);
    let agent = demo_agent();
    let (code, out) = doctor(
        "paliadin-worker",
        &[
            ("DATABASE_URL", &db.url),
            ("PALIADIN_SPOOL_DIR", path_str(&spool)),
            ("PALIADIN_AGENT_CMD", &agent),
        ],
    );
    assert_eq!(code, 0, "{out}");
    for check in [
        "database migrated",
        "tmux present",
        "spool directory",
        "agent command",
    ] {
        line(&out, &format!("ok   {check}:"));
    }
    assert!(!out.contains("\nfail "), "{out}");
}

#[tokio::test]
async fn tmux_missing_fails() {
    let db = TestDb::new().await;
    let dir = Dir::new("tmux");
    let spool = spool(&dir, 0o700);
    let agent = demo_agent();
    // An empty PATH: no tmux anywhere.
    let (code, out) = doctor(
        "paliadin-worker",
        &[
            ("DATABASE_URL", &db.url),
            ("PATH", path_str(&dir.0)),
            ("PALIADIN_SPOOL_DIR", path_str(&spool)),
            ("PALIADIN_AGENT_CMD", &agent),
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(line(&out, "fail tmux present:").contains("apt-get install tmux"));
    line(&out, "ok   agent command:");
}

#[tokio::test]
async fn spool_others_can_read_fails() {
    let db = TestDb::new().await;
    let dir = Dir::new("spool");
    let spool = spool(&dir, 0o755);
    let agent = demo_agent();
    let (code, out) = doctor(
        "paliadin-worker",
        &[
            ("DATABASE_URL", &db.url),
            ("PALIADIN_SPOOL_DIR", path_str(&spool)),
            ("PALIADIN_AGENT_CMD", &agent),
        ],
    );
    assert_eq!(code, 1, "{out}");
    let l = line(&out, "fail spool directory:");
    assert!(l.contains("mode 0755") && l.contains("chmod 700"), "{l}");
}

#[tokio::test]
async fn unreachable_host_fails() {
    let db = TestDb::new().await;
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hosts = format!("far=ssh://paliadin@127.0.0.1:{port}");
    let (code, out) = doctor(
        "paliadin-worker",
        &[
            ("DATABASE_URL", &db.url),
            ("PALIADIN_HOSTS", &hosts),
            ("PALIADIN_HOST_CONNECT_TIMEOUT_SECS", "2"),
        ],
    );
    assert_eq!(code, 1, "{out}");
    let l = line(&out, "fail host far reachable:");
    assert!(l.contains(&format!("127.0.0.1:{port}")), "{l}");
    // No local host is served: no local checks.
    assert!(!out.contains("tmux present"), "{out}");
    // The queue of the served host is looked for (a worker creates it when it starts).
    line(&out, "warn queues present: turns_far");
}

#[tokio::test]
async fn an_account_map_others_can_write_fails_and_a_sound_one_passes() {
    let db = TestDb::new().await;
    let dir = Dir::new("accounts");
    let map = dir.0.join("accounts");
    std::fs::write(&map, format!("{} pa-alice\n", uuid::Uuid::new_v4())).unwrap();
    std::fs::set_permissions(&map, std::fs::Permissions::from_mode(0o666)).unwrap();
    let hosts = format!("box=accounts://{}", map.display());
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("PALIADIN_HOSTS", &hosts),
    ];
    let (code, out) = doctor("paliadin-worker", &env);
    assert_eq!(code, 1, "{out}");
    let l = line(&out, "fail host box account map:");
    assert!(l.contains("writable by group or others"), "{l}");
    std::fs::set_permissions(&map, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, out) = doctor("paliadin-worker", &env);
    assert!(
        line(&out, "ok   host box account map:").contains("1 owners"),
        "{out}"
    );
}

#[tokio::test]
async fn a_live_host_agent_is_reported_with_its_version() {
    let db = TestDb::new().await;
    let host = paliadin_e2e::sshd::SshHost::start("near");
    let hosts = host.entry();
    let (_, out) = doctor(
        "paliadin-worker",
        &[
            ("DATABASE_URL", &db.url),
            ("PALIADIN_HOSTS", &hosts),
            ("PALIADIN_HOST_CONNECT_TIMEOUT_SECS", "10"),
        ],
    );
    let l = line(&out, "ok   host near reachable:");
    assert!(l.contains("paliadin-shim"), "{l}");
    assert!(l.contains("(protocol 3)"), "{l}");
    assert!(!out.contains("fail host"), "{out}");
}

#[tokio::test]
async fn an_agent_that_cannot_resume_is_a_warning_and_one_that_can_is_ok() {
    let db = TestDb::new().await;
    let dir = Dir::new("resume");
    let spool = spool(&dir, 0o700);
    let agent = demo_agent();
    let run = |env: &[(&str, &str)]| {
        let mut all = vec![
            ("DATABASE_URL", db.url.as_str()),
            ("PALIADIN_SPOOL_DIR", path_str(&spool)),
        ];
        all.extend_from_slice(env);
        doctor("paliadin-worker", &all)
    };
    // The demo agent resumes by default.
    let (code, out) = run(&[("PALIADIN_AGENT_CMD", &agent)]);
    assert_eq!(code, 0, "{out}");
    assert!(
        line(&out, "ok   agent conversations:").contains("resumes"),
        "{out}"
    );
    // A custom command declares no resume form: it forgets, which is allowed and said.
    let (code, out) = run(&[("PALIADIN_AGENT_CMD", "/bin/cat")]);
    assert_eq!(code, 0, "a warning, not a failure: {out}");
    let warned = line(&out, "warn agent conversations:");
    assert!(
        warned.contains("this agent does not remember earlier turns after a restart")
            && warned.contains("PALIADIN_AGENT_RESUME_ARGS"),
        "{out}"
    );
    // The same with a resume form is fine.
    let (code, out) = run(&[
        ("PALIADIN_AGENT_CMD", "/bin/cat"),
        ("PALIADIN_AGENT_RESUME_ARGS", "--continue {conversation}"),
    ]);
    assert_eq!(code, 0, "{out}");
    line(&out, "ok   agent conversations:");
}

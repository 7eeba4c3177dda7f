//! Test rig for `tests/local_driver.rs`: a private tmux server (`-L paliadin-test-<random>`,
//! killed on drop), a private spool directory, the real demo agent, and a `Progress` that
//! records every call and lets a test wait for one.

use paliadin_shared::domain::permission::{DecidedBy, Decision, PermissionAnswer, PermissionAsk};
use paliadin_shared::domain::trailer::Reply;
use paliadin_shared::{SessionName, UserMessage};
use paliadin_worker::driver::local::{LocalConfig, LocalDriver};
use paliadin_worker::driver::{Conversation, DriveError, Driver, Progress, TurnControl, TurnSpec};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// One call the driver made on `Progress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Delivered,
    Content(String),
    Activity(String),
    /// A question on the agent's screen that no hook reported.
    Waiting(String),
    /// A permission request: its number, tool and summary.
    Permission(u32, String, String),
}

/// Records `Progress` calls in order, and answers permission requests like a person would:
/// after `think` (the person's time), with the next of `answers` (allow when none is left).
#[derive(Default)]
pub struct Recorder {
    calls: Mutex<Vec<Call>>,
    changed: Notify,
    pub answers: Mutex<std::collections::VecDeque<PermissionAnswer>>,
    pub think: Duration,
}

impl Recorder {
    fn push(&self, call: Call) {
        self.calls.lock().unwrap().push(call);
        self.changed.notify_waiters();
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The concatenation of every content delta.
    pub fn content(&self) -> String {
        let calls = self.calls();
        let deltas = calls.iter().filter_map(|c| match c {
            Call::Content(d) => Some(d.as_str()),
            _ => None,
        });
        deltas.collect()
    }

    pub fn activities(&self) -> Vec<String> {
        let calls = self.calls();
        let texts = calls.iter().filter_map(|c| match c {
            Call::Activity(t) => Some(t.clone()),
            _ => None,
        });
        texts.collect()
    }

    /// Waits until `waiting()` was called; returns the screen it reported.
    pub async fn waiting(&self) -> String {
        loop {
            let changed = self.changed.notified();
            let found = self.calls().into_iter().find_map(|c| match c {
                Call::Waiting(screen) => Some(screen),
                _ => None,
            });
            if let Some(screen) = found {
                return screen;
            }
            changed.await;
        }
    }

    /// Waits until `delivered()` was called.
    pub async fn delivered(&self) {
        loop {
            let changed = self.changed.notified();
            if self.calls().contains(&Call::Delivered) {
                return;
            }
            changed.await;
        }
    }
}

#[async_trait::async_trait]
impl Progress for Recorder {
    async fn delivered(&self) {
        self.push(Call::Delivered);
    }
    async fn content(&self, delta: &str) {
        self.push(Call::Content(delta.to_owned()));
    }
    async fn activity(&self, text: &str) {
        self.push(Call::Activity(text.to_owned()));
    }
    async fn waiting(&self, screen: &str) {
        self.push(Call::Waiting(screen.to_owned()));
    }
    async fn permission(&self, n: u32, ask: &PermissionAsk) -> Option<PermissionAnswer> {
        self.push(Call::Permission(n, ask.tool.clone(), ask.summary.clone()));
        tokio::time::sleep(self.think).await;
        let next = self.answers.lock().unwrap().pop_front();
        Some(next.unwrap_or(PermissionAnswer {
            decision: Decision::Allow,
            message: None,
            by: DecidedBy::Owner,
        }))
    }
}

/// A private tmux server and spool with a driver over them.
pub struct Rig {
    pub driver: LocalDriver,
    pub socket: String,
    root: PathBuf,
    /// This rig's conversations: one per session name (`Rig::conversation`).
    conversations: Uuid,
}

impl Rig {
    pub fn new() -> Rig {
        Rig::with(|_| {})
    }

    /// A rig whose driver config `tweak` may adjust (defaults: the demo agent, fast health).
    pub fn with(tweak: impl FnOnce(&mut LocalConfig)) -> Rig {
        // The driver's log, with `RUST_LOG` (e.g. `paliadin_worker=debug`), for a failing run.
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let id = Uuid::new_v4().simple().to_string();
        let socket = format!("paliadin-test-{}", &id[..12]);
        let root = std::env::temp_dir().join(format!("paliadin-driver-test-{id}"));
        let agent = demo_agent();
        let mut cfg = LocalConfig::new(vec![agent]);
        cfg.socket = Some(socket.clone());
        cfg.spool_dir = root.join("spool");
        cfg.workdir = std::env::temp_dir();
        cfg.health_interval = Duration::from_millis(200);
        let state = root.join("demo-state").display().to_string();
        assert!(cfg.agent_env.set("PALIADIN_DEMO_STATE_DIR", &state));
        tweak(&mut cfg);
        let driver = LocalDriver::new(cfg).expect("driver starts");
        Rig {
            driver,
            socket,
            root,
            conversations: Uuid::new_v4(),
        }
    }

    /// The conversation of a session's turns in this rig (the same for every turn of it).
    pub fn conversation(&self, session: &SessionName) -> Conversation {
        let mut h = Sha256::new();
        h.update(self.conversations.as_bytes());
        h.update(session.as_str().as_bytes());
        let bytes: [u8; 16] = h.finalize()[..16].try_into().expect("16 bytes");
        Conversation::new(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    pub fn session(&self, name: &str) -> SessionName {
        SessionName::parse(name).unwrap()
    }

    pub fn spec(&self, session: &SessionName, message: &str) -> TurnSpec {
        TurnSpec {
            turn_id: Uuid::now_v7(),
            user_id: Uuid::new_v4(),
            session: session.clone(),
            conversation: self.conversation(session),
            message: UserMessage::parse(message).expect("valid message"),
            already_delivered: false,
            resume: false,
            timeout: Duration::from_secs(30),
            uploads: Vec::new(),
        }
    }

    /// Runs a turn with fresh controls; returns its outcome and what it reported.
    pub async fn run(&self, spec: &TurnSpec) -> (Result<Reply, DriveError>, Recorder) {
        let rec = Recorder::default();
        let out = self
            .driver
            .run_turn(spec, &rec, &TurnControl::default())
            .await;
        (out, rec)
    }

    /// Runs a tmux command on the rig's server (test-side inspection and sabotage).
    pub fn tmux(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// `#{pane_pid}` of a session, if it exists.
    pub fn pane_pid(&self, s: &SessionName) -> Option<String> {
        let out = self.tmux(&[
            "display",
            "-p",
            "-t",
            &s.pane_target(),
            "#{session_name} #{pane_pid}",
        ]);
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let (name, pid) = text.split_once(' ')?;
        (out.status.success() && name == s.as_str()).then(|| pid.to_owned())
    }

    pub fn has_session(&self, s: &SessionName) -> bool {
        self.tmux(&["has-session", "-t", &s.exact_target()])
            .status
            .success()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        let _ = std::fs::remove_dir_all(&self.root);
        let tmpdir = std::env::var("TMUX_TMPDIR").unwrap_or_else(|_| "/tmp".into());
        let uid = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self")
                .map(|m| m.uid())
                .unwrap_or(0)
        };
        let _ = std::fs::remove_file(format!("{tmpdir}/tmux-{uid}/{}", self.socket));
    }
}

/// What `/echo <payload>` answers.
pub fn echo_reply(payload: &str) -> String {
    format!(
        "{payload}\nsha256: {}",
        hex::encode(Sha256::digest(payload))
    )
}

/// Asserts a turn succeeded, reported `delivered` first, and that its deltas concatenate to the final text.
pub fn assert_ok(
    out: &Result<paliadin_shared::domain::trailer::Reply, DriveError>,
    rec: &Recorder,
) -> String {
    let reply = out.as_ref().expect("turn succeeds");
    assert_eq!(
        rec.content(),
        reply.text,
        "deltas concatenate to the final text"
    );
    assert_eq!(rec.calls().first(), Some(&Call::Delivered));
    reply.text.clone()
}

/// The demo agent binary, built by `cargo build --bins` into the same profile directory as this
/// test (`target/<profile>/deps/<test>` → `target/<profile>/paliadin-demo-agent`); it lives in
/// its own crate, so cargo gives no `CARGO_BIN_EXE_` for it here.
fn demo_agent() -> String {
    let exe = std::env::current_exe().expect("the test's own path");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join("paliadin-demo-agent");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --bins` first",
        bin.display()
    );
    bin.display().to_string()
}

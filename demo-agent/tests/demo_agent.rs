//! Pins the demo agent end to end in a real tmux server (private socket), driven the way the
//! worker drives agents: envelope into a buffer from stdin, `paste-buffer -p -d -r`, then a
//! separate `send-keys Enter`.
//! - `/echo` returns the hostile message byte-exact with its sha256, and one receipt is one
//!   `.ack` line (a retried Enter on an empty input adds nothing);
//! - the default reply streams `.partial` (a prefix of the final text) and an activity event;
//! - Escape interrupts `/hang` (no `.md`), and the next turn is answered.

use paliadin_shared::domain::trailer::{Trailer, parse_reply};
use paliadin_shared::{Envelope, UserMessage};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

const SESSION: &str = "demo";
const TARGET: &str = "=demo:";

/// A tmux server on a private socket running the demo agent; killed (with its spool) on drop.
struct Pane {
    socket: String,
    spool: PathBuf,
}

impl Pane {
    fn start() -> Pane {
        let id = Uuid::new_v4().simple().to_string();
        let pane = Pane {
            socket: format!("paliadin-demo-test-{}", &id[..12]),
            spool: std::env::temp_dir().join(format!("paliadin-demo-spool-{id}")),
        };
        let agent = env!("CARGO_BIN_EXE_paliadin-demo-agent");
        // The server (started by this first command) passes its environment to the pane.
        let out = pane
            .tmux_cmd()
            .env("PALIADIN_SPOOL_DIR", &pane.spool)
            .args(["new-session", "-d", "-s", SESSION, "-x", "200", "-y", "50"])
            .arg(agent)
            .output()
            .expect("tmux must be installed to run this test");
        assert!(out.status.success(), "new-session: {out:?}");
        // The banner is printed after bracketed paste is switched on.
        wait_for("the agent's ready banner", || {
            pane.screen()
                .contains("paliadin-demo-agent ready")
                .then_some(())
        });
        pane
    }

    fn tmux_cmd(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "-f", "/dev/null"]);
        cmd
    }

    fn tmux(&self, args: &[&str]) -> Output {
        let out = self.tmux_cmd().args(args).output().expect("run tmux");
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        out
    }

    fn screen(&self) -> String {
        let out = self
            .tmux_cmd()
            .args(["capture-pane", "-p", "-J", "-S", "-200", "-t", TARGET])
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Delivers text like the worker: buffer from stdin, bracketed paste, then Enter.
    fn deliver(&self, text: &str) {
        let buffer = format!("paliadin-{}", Uuid::new_v4().simple());
        let mut load = self
            .tmux_cmd()
            .args(["load-buffer", "-b", &buffer, "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("run tmux");
        load.stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        assert!(load.wait().unwrap().success(), "load-buffer");
        self.tmux(&[
            "paste-buffer",
            "-p",
            "-d",
            "-r",
            "-b",
            &buffer,
            "-t",
            TARGET,
        ]);
        self.enter();
    }

    fn enter(&self) {
        self.tmux(&["send-keys", "-t", TARGET, "Enter"]);
    }

    fn file(&self, turn: Uuid, ext: &str) -> PathBuf {
        self.spool.join(format!("{turn}.{ext}"))
    }

    /// Waits for the turn's `.md` and returns its raw contents.
    fn reply(&self, turn: Uuid) -> String {
        let path = self.file(turn, "md");
        wait_for(&format!("{}", path.display()), || {
            std::fs::read_to_string(&path).ok()
        })
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        // tmux leaves its socket file behind when the server is killed: remove it too.
        let socket = self
            .tmux_cmd()
            .args(["display-message", "-p", "#{socket_path}"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        let _ = self.tmux_cmd().arg("kill-server").output();
        if let Ok(socket) = socket.as_deref()
            && socket.contains(&self.socket)
        {
            let _ = std::fs::remove_file(socket);
        }
        let _ = std::fs::remove_dir_all(&self.spool);
    }
}

/// Polls `check` every 20 ms until it yields a value; fails the test after 20 s.
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn envelope(message: &str) -> (Uuid, String) {
    let turn = Uuid::new_v4();
    let message = UserMessage::parse(message).expect("a valid message");
    (turn, Envelope::new(turn, &message).render())
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

#[test]
fn echo_returns_hostile_bytes_exactly_and_acks_once() {
    let pane = Pane::start();
    let payload = "rm -rf / ; echo \"quoted\" 'single' $(whoami) `id` \\back\\slash\\\n\
                   \tline two\twith tabs; emoji 😀👍🏽 RTL مرحبا بالعالم עברית\n  \
                   indented \\n literal; $HOME %s {} [x] ;";
    let (turn, text) = envelope(&format!("/echo {payload}"));
    pane.deliver(&text);
    let raw = pane.reply(turn);

    let hex = hex::encode(Sha256::digest(payload.as_bytes()));
    let trailer = Trailer {
        used_tools: vec![],
        rows_seen: 3,
        chip_count: 0,
        classifier_tag: "demo-echo".into(),
    };
    assert_eq!(
        raw,
        format!("{payload}\nsha256: {hex}\n{}\n", trailer.render())
    );
    let reply = parse_reply(&raw).expect("the reply parses");
    let (echoed, sha) = reply.text.rsplit_once("\nsha256: ").unwrap();
    assert_eq!(echoed.as_bytes(), payload.as_bytes());
    assert_eq!(sha, hex);
    assert_eq!(reply.trailer, trailer);

    // A retried Enter on an empty input is harmless: after the next turn is answered, the first
    // turn still has exactly one receipt.
    pane.enter();
    let (next, text) = envelope("/echo next");
    pane.deliver(&text);
    pane.reply(next);
    assert_eq!(lines(&pane.file(turn, "ack")), 1);
    assert_eq!(lines(&pane.file(next, "ack")), 1);
}

#[test]
fn default_reply_streams_partial_and_activity_then_escape_interrupts_hang() {
    let pane = Pane::start();
    let (turn, text) = envelope("hello; \"there\"\nsecond line");
    pane.deliver(&text);
    let reply = parse_reply(&pane.reply(turn)).expect("the reply parses");
    assert_eq!(reply.trailer.classifier_tag, "demo");
    assert!(
        reply.text.contains("> hello; \"there\"\n> second line"),
        "{}",
        reply.text
    );
    let partial = std::fs::read_to_string(pane.file(turn, "partial")).unwrap();
    assert_eq!(partial, reply.text, "the chunks add up to the final text");
    let events = std::fs::read_to_string(pane.file(turn, "events")).unwrap();
    let event: serde_json::Value = serde_json::from_str(events.lines().next().unwrap()).unwrap();
    assert_eq!(event["type"], "activity");
    assert!(event["text"].as_str().unwrap().contains("reading"));

    let (hang, text) = envelope("/hang");
    pane.deliver(&text);
    wait_for("the hang to start", || {
        pane.screen()
            .contains("hanging until interrupted")
            .then_some(())
    });
    pane.tmux(&["send-keys", "-t", TARGET, "Escape"]);
    wait_for("the interrupt", || {
        pane.screen()
            .contains(&format!("interrupted turn {hang}"))
            .then_some(())
    });
    let (after, text) = envelope("/echo after");
    pane.deliver(&text);
    assert!(
        parse_reply(&pane.reply(after))
            .unwrap()
            .text
            .starts_with("after\n")
    );
    assert!(
        !pane.file(hang, "md").exists(),
        "an interrupted turn has no reply"
    );
    assert_eq!(lines(&pane.file(hang, "ack")), 1);
}

//! Pins the host agent's defences, talking to a real `paliadin-shim serve` (directly on its
//! stdio, and once through sshd's forced command): the hello comes first; malformed JSON,
//! missing ids, unknown verbs, bad session names, bad messages, bad timeouts, invalid UTF-8
//! and oversized lines each get an error line and the host agent keeps serving; nothing a request
//! carries ever runs as a command — a session name `x;touch …` is refused, a message with
//! `$(…)`, backticks, `;` and `|` is delivered to the agent as text, byte for byte, and the
//! command an SSH client asks for is ignored in favour of the forced `paliadin-shim serve`.

use paliadin_e2e::procs::{TmuxRig, binary};
use paliadin_e2e::sshd::SshHost;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

struct HostAgent {
    _child: Child,
    stdin: ChildStdin,
    out: Lines<BufReader<ChildStdout>>,
}

impl HostAgent {
    fn start(rig: &TmuxRig) -> HostAgent {
        let mut child = Command::new(binary("paliadin-shim"))
            .arg("serve")
            .env("PALIADIN_TMUX_SOCKET", &rig.socket)
            .env("PALIADIN_SPOOL_DIR", &rig.spool)
            .env("PALIADIN_AGENT_CMD", binary("paliadin-demo-agent"))
            .env("PALIADIN_SESSION_PREFIX", "pal")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn paliadin-shim");
        let stdin = child.stdin.take().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap()).lines();
        HostAgent {
            _child: child,
            stdin,
            out,
        }
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).await.unwrap();
        self.stdin.write_all(b"\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn send(&mut self, v: Value) {
        self.send_raw(v.to_string().as_bytes()).await;
    }

    async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), self.out.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("the host agent is still there");
        serde_json::from_str(&line).expect("every line is JSON")
    }

    /// Sends a request and returns its single answer.
    async fn ask(&mut self, v: Value) -> Value {
        self.send(v).await;
        self.recv().await
    }
}

fn error_code(v: &Value) -> (&str, &str) {
    (
        v["type"].as_str().unwrap_or(""),
        v["code"].as_str().unwrap_or(""),
    )
}

fn pwned(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "paliadin-pwned-{tag}-{}",
        uuid::Uuid::new_v4().simple()
    ))
}

/// A `run` request as a worker sends it: every turn of `session` in one conversation.
fn turn(session: &str, message: &str) -> Value {
    json!({
        "op": "run", "turn_id": uuid::Uuid::new_v4(), "user_id": uuid::Uuid::new_v4(),
        "session": session, "message": message, "timeout_ms": 30000,
        "conversation": paliadin_e2e::procs::conversation_of(session).id,
    })
}

#[tokio::test]
async fn bad_requests_get_error_lines_and_the_host_agent_keeps_serving() {
    let rig = TmuxRig::new();
    let mut host_agent = HostAgent::start(&rig);
    let hello = host_agent.recv().await;
    assert_eq!(
        (hello["type"].as_str(), hello["protocol"].as_u64()),
        (Some("hello"), Some(3))
    );
    host_agent.send_raw(b"{not json").await;
    let v = host_agent.recv().await;
    assert_eq!(
        (error_code(&v), v["id"].is_null()),
        (("error", "bad_request"), true),
        "{v}"
    );
    host_agent.send_raw(&[0xff, 0xfe, b'{', b'}']).await;
    assert_eq!(
        error_code(&host_agent.recv().await),
        ("error", "bad_request")
    );
    for (req, code) in [
        (json!({"op": "ping"}), "bad_request"),
        (json!({"id": "7", "op": "ping"}), "bad_request"),
        (json!({"id": 1}), "bad_request"),
        (
            json!({"id": 2, "op": "exec", "cmd": "touch /tmp/x"}),
            "unknown_op",
        ),
        (json!({"id": 3, "op": "shell"}), "unknown_op"),
        (json!({"id": 4, "op": "reset"}), "bad_request"),
        (
            json!({"id": 5, "op": "cancel", "turn_id": uuid::Uuid::new_v4()}),
            "unknown_turn",
        ),
        (
            json!({"id": 6, "op": "capture", "session": "=x"}),
            "bad_request",
        ),
        (
            json!({"id": 7, "op": "health", "session": "a b"}),
            "bad_request",
        ),
        (
            json!({"id": 12, "op": "decide", "turn_id": uuid::Uuid::new_v4(), "n": 1,
                   "answer": {"decision": "allow", "by": "owner"}}),
            "unknown_turn",
        ),
        (
            json!({"id": 13, "op": "decide", "turn_id": uuid::Uuid::new_v4(), "n": 1,
                   "answer": {"decision": "run it", "by": "owner"}}),
            "bad_request",
        ),
    ] {
        let v = host_agent.ask(req.clone()).await;
        assert_eq!(error_code(&v), ("error", code), "{req} → {v}");
    }
    let mut bad_message = turn("pal-ok", "\u{1b}[31mred");
    bad_message["id"] = json!(8);
    assert_eq!(
        error_code(&host_agent.ask(bad_message).await),
        ("error", "bad_request")
    );
    let mut no_time = turn("pal-ok", "hello");
    no_time["id"] = json!(9);
    no_time["timeout_ms"] = json!(0);
    assert_eq!(
        error_code(&host_agent.ask(no_time).await),
        ("error", "bad_request")
    );
    let huge = json!({"id": 10, "op": "ping", "pad": "x".repeat(300 * 1024)});
    let v = host_agent.ask(huge).await;
    assert_eq!(
        (error_code(&v), v["id"].is_null()),
        (("error", "too_large"), true),
        "{v}"
    );
    let v = host_agent.ask(json!({"id": 11, "op": "ping"})).await;
    assert_eq!(
        (v["id"].as_u64(), v["type"].as_str()),
        (Some(11), Some("ok"))
    );
    assert!(
        !rig.has_session("pal-ok"),
        "a refused request started a session"
    );
}

#[tokio::test]
async fn nothing_in_a_request_ever_runs_as_a_command() {
    let rig = TmuxRig::new();
    let mut host_agent = HostAgent::start(&rig);
    host_agent.recv().await;
    let (by_name, by_reset) = (pwned("name"), pwned("reset"));
    for (id, op) in [
        (1, turn(&format!("x;touch {}", by_name.display()), "hi")),
        (
            2,
            json!({"op": "reset", "session": format!("x;touch {}", by_reset.display())}),
        ),
        (
            3,
            json!({"op": "capture", "session": "$(touch /tmp/paliadin-pwned-capture)"}),
        ),
    ] {
        let mut req = op;
        req["id"] = json!(id);
        let v = host_agent.ask(req).await;
        assert_eq!(error_code(&v), ("error", "bad_request"), "{v}");
    }
    let (a, b, c, d) = (pwned("subst"), pwned("semi"), pwned("tick"), pwned("pipe"));
    let text = format!(
        "$(touch {}) ; touch {} `touch {}` | touch {} && echo done",
        a.display(),
        b.display(),
        c.display(),
        d.display()
    );
    let mut req = turn("pal-hostile", &format!("/echo {text}"));
    req["id"] = json!(4);
    host_agent.send(req).await;
    let reply = loop {
        let v = host_agent.recv().await;
        assert_eq!(v["id"].as_u64(), Some(4), "{v}");
        if v["type"] != "delivered" && v["type"] != "content" && v["type"] != "activity" {
            break v;
        }
    };
    assert_eq!(reply["type"], "reply", "{reply}");
    let echoed = reply["text"]
        .as_str()
        .unwrap()
        .rsplit_once("\nsha256: ")
        .unwrap()
        .0;
    assert_eq!(echoed, text, "the message did not arrive byte for byte");
    for p in [
        by_name,
        by_reset,
        a,
        b,
        c,
        d,
        PathBuf::from("/tmp/paliadin-pwned-capture"),
    ] {
        assert!(!p.exists(), "{} was created", p.display());
    }
    assert!(rig.has_session("pal-hostile"));
}

#[tokio::test]
async fn the_forced_command_ignores_what_the_client_asks_to_run() {
    let host = SshHost::start("h1");
    let target = pwned("ssh");
    let out = Command::new("ssh")
        .args(host.ssh_args())
        .arg(format!("touch {}", target.display()))
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run ssh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first: Value = serde_json::from_str(stdout.lines().next().unwrap_or("")).expect("hello");
    assert_eq!(first["type"], "hello", "{stdout}");
    assert!(!target.exists(), "the client's command ran on the host");
}

#[tokio::test]
async fn sessions_without_the_prefix_are_not_the_host_agents() {
    let rig = TmuxRig::new();
    // An operator's own shell on the same tmux server, with a secret on its screen.
    let made = std::process::Command::new("tmux")
        .args([
            "-L",
            &rig.socket,
            "new-session",
            "-d",
            "-s",
            "operator-shell",
        ])
        .args(["sh", "-c", "echo OPERATOR-SECRET; sleep 600"])
        .status()
        .unwrap();
    assert!(made.success());
    let mut host_agent = HostAgent::start(&rig);
    host_agent.recv().await; // hello
    for (id, op) in [(1, "capture"), (2, "reset"), (3, "health")] {
        let v = host_agent
            .ask(json!({"id": id, "op": op, "session": "operator-shell"}))
            .await;
        assert_eq!(error_code(&v), ("error", "bad_request"), "{op}: {v}");
        assert!(!v.to_string().contains("OPERATOR-SECRET"), "{op}: {v}");
    }
    let mut run = turn("operator-shell", "/echo pasted");
    run["id"] = json!(4);
    assert_eq!(
        error_code(&host_agent.ask(run).await),
        ("error", "bad_request")
    );
    assert!(rig.has_session("operator-shell"), "the reset killed it");
    assert!(!rig.screen("operator-shell").contains("pasted"));
}

/// A host agent process that gets a `run` for a turn that already ended and was settled (its files in
/// `done/`, no outcome record — e.g. a connection that won the turn's lock only after another
/// connection finished it) answers from the files and never pastes the message again.
#[tokio::test]
async fn a_run_for_a_settled_turn_never_pastes_again() {
    let rig = TmuxRig::new();
    let mut host_agent = HostAgent::start(&rig);
    host_agent.recv().await;
    let mut req = turn("pal-settled", "/echo once");
    req["id"] = json!(1);
    let id = req["turn_id"].as_str().unwrap().to_owned();
    let done = rig.spool.join("done");
    std::fs::create_dir_all(&done).unwrap();
    std::fs::write(done.join(format!("{id}.ack")), "earlier receipt\n").unwrap();
    let trailer = r#"<!-- paliadin {"used_tools":[],"rows_seen":1,"chip_count":0,"classifier_tag":"demo-echo"} -->"#;
    std::fs::write(done.join(format!("{id}.md")), format!("once\n{trailer}\n")).unwrap();
    host_agent.send(req).await;
    let mut last = host_agent.recv().await;
    while last["type"] == "delivered" || last["type"] == "content" {
        last = host_agent.recv().await;
    }
    assert_eq!(last["type"], "reply", "{last}");
    assert_eq!(last["text"], "once");
    assert_eq!(rig.receipts(&id), 1, "the message was pasted again");
    assert!(
        !rig.has_session("pal-settled"),
        "a session was started to paste it"
    );
}

/// A host agent killed after its Enter but before the agent's receipt (a slow receipt hook),
/// then a new host agent asked for the same turn (the worker reconnected): it finds the Enter
/// recorded, waits for the receipt and never pastes the message a second time.
#[tokio::test]
async fn a_turn_whose_host_agent_died_between_its_enter_and_its_receipt_is_not_pasted_again() {
    let rig = TmuxRig::new();
    let mut first = HostAgent::start(&rig);
    first.recv().await;
    let mut req = turn("pal-late", "/late-ack 4000");
    req["id"] = json!(1);
    let id = req["turn_id"].as_str().unwrap().to_owned();
    first.send(req.clone()).await;
    paliadin_e2e::wait_until(30, "the agent took the message", || {
        let shown = rig.screen("pal-late").contains("receipt in 4000 ms");
        async move { shown }
    })
    .await;
    first._child.kill().await.unwrap();
    let mut host_agent = HostAgent::start(&rig);
    host_agent.recv().await;
    host_agent.send(req).await;
    let mut last = host_agent.recv().await;
    while last["type"] != "reply" && last["type"] != "error" {
        last = host_agent.recv().await;
    }
    assert_eq!(last["type"], "reply", "{last}");
    // The agent takes input in order: once a later turn is answered, a second submission of
    // this one would be on the screen.
    let mut next = turn("pal-late", "/echo after");
    next["id"] = json!(2);
    host_agent.send(next).await;
    let mut last = host_agent.recv().await;
    while last["id"] != 2 || last["type"] != "reply" && last["type"] != "error" {
        last = host_agent.recv().await;
    }
    assert_eq!(last["type"], "reply", "{last}");
    let submissions = rig
        .screen("pal-late")
        .matches(&format!("turn {id} received"))
        .count();
    assert_eq!(submissions, 1, "the message was submitted again");
    assert_eq!(rig.receipts(&id), 1);
}

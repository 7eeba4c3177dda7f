//! Pins the Claude Code package in `deploy/skill/`:
//! - `install.sh` (HOME pointed at a temp dir) installs the skill and hooks, merges
//!   `~/.claude/settings.json` without losing unrelated settings or foreign hooks, pre-seeds
//!   `~/.claude.json`, and is idempotent;
//! - the hooks, fed Claude Code's hook JSON on stdin, write the `.ack` line and activity events,
//!   block the first stop without a reply, then write a fallback reply that `parse_reply` accepts;
//!   the PermissionRequest hook asks through the spool and answers Claude with the decision.

use paliadin_shared::domain::trailer::parse_reply;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use uuid::Uuid;

/// The tmux session the hooks run in (the worker passes `PALIADIN_SESSION`).
const TMUX_SESSION: &str = "paliadin-0123abcd";

/// A temporary HOME with the package installed in it; removed on drop.
struct Home {
    dir: PathBuf,
}

impl Home {
    fn new() -> Home {
        let dir = std::env::temp_dir().join(format!("paliadin-skill-{}", Uuid::new_v4()));
        std::fs::create_dir_all(dir.join(".claude")).unwrap();
        Home { dir }
    }

    fn install(&self, args: &[&str]) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/skill/install.sh");
        let out = Command::new("sh")
            .arg(script)
            .args(args)
            .env("HOME", &self.dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "install.sh failed: {out:?}");
    }

    fn json(&self, rel: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join(rel)).unwrap()).unwrap()
    }

    fn spool(&self) -> PathBuf {
        self.dir.join("spool")
    }

    /// Runs an installed hook as Claude Code does (its path is the command), JSON on stdin.
    fn hook(&self, name: &str, input: Value) -> String {
        let path = self.dir.join(".claude/skills/paliadin/hooks").join(name);
        let mut child = Command::new(path)
            .env("PALIADIN_SPOOL_DIR", self.spool())
            .env("PALIADIN_SESSION", TMUX_SESSION)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "hook {name}: {out:?}");
        assert!(out.stderr.is_empty(), "hook {name} complained: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn busy(&self) -> PathBuf {
        self.spool().join(format!(".busy-{TMUX_SESSION}"))
    }

    fn stopped(&self) -> PathBuf {
        self.spool().join(format!(".stopped-{TMUX_SESSION}"))
    }

    fn turn_file(&self, turn: Uuid, ext: &str) -> PathBuf {
        self.spool().join(format!("{turn}.{ext}"))
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn commands(settings: &Value, event: &str) -> Vec<String> {
    settings["hooks"][event]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["hooks"].as_array().unwrap().iter())
        .map(|h| h["command"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn install_merges_settings_and_seeds_claude_json() {
    let home = Home::new();
    let foreign = json!({"hooks": [{"type": "command", "command": "/opt/other/stop-hook"}]});
    let settings = json!({"theme": "dark", "hooks": {"Stop": [foreign]}});
    std::fs::write(home.dir.join(".claude/settings.json"), settings.to_string()).unwrap();
    let state = json!({"userID": "u1", "projects": {"/elsewhere": {"allowedTools": ["x"]}}});
    std::fs::write(home.dir.join(".claude.json"), state.to_string()).unwrap();
    let workdir = home.dir.join("work");
    std::fs::create_dir_all(&workdir).unwrap();
    let workdir = workdir.canonicalize().unwrap();

    home.install(&[workdir.to_str().unwrap()]);
    home.install(&[workdir.to_str().unwrap()]); // idempotent

    let skill = std::fs::read_to_string(home.dir.join(".claude/skills/paliadin/SKILL.md")).unwrap();
    let front = skill
        .strip_prefix("---\n")
        .unwrap()
        .split("\n---\n")
        .next()
        .unwrap();
    assert!(front.lines().any(|l| l == "name: paliadin"), "{front}");
    let description = front
        .lines()
        .find_map(|l| l.strip_prefix("description: "))
        .unwrap();
    assert!(description.len() <= 1024, "{} chars", description.len());
    assert!(description.contains("[PALIADIN:<turn_id>]"));

    let settings = home.json(".claude/settings.json");
    assert_eq!(settings["theme"], "dark");
    let stop = commands(&settings, "Stop");
    assert_eq!(stop.len(), 2, "{stop:?}");
    assert_eq!(stop[0], "/opt/other/stop-hook");
    for (event, script) in [
        ("UserPromptSubmit", "user-prompt-submit"),
        ("PostToolUse", "post-tool-use"),
        ("Stop", "stop"),
        ("PermissionRequest", "permission-request"),
    ] {
        let ours: Vec<String> = commands(&settings, event)
            .into_iter()
            .filter(|c| c.contains("/skills/paliadin/hooks/"))
            .collect();
        assert_eq!(ours.len(), 1, "{event}: {ours:?}");
        assert!(ours[0].ends_with(&format!("/hooks/{script}")), "{ours:?}");
        assert!(Path::new(&ours[0]).is_file(), "{} is installed", ours[0]);
    }

    let state = home.json(".claude.json");
    assert_eq!(state["hasCompletedOnboarding"], true);
    assert_eq!(state["userID"], "u1");
    assert_eq!(
        state["projects"]["/elsewhere"]["allowedTools"],
        json!(["x"])
    );
    let project = &state["projects"][workdir.to_str().unwrap()];
    assert_eq!(project["hasTrustDialogAccepted"], true);
}

#[test]
fn hooks_ack_report_activity_block_once_then_fall_back() {
    let home = Home::new();
    home.install(&[]);
    let turn = Uuid::new_v4();
    let session = json!("sess-1");

    // A plain prompt is not a turn.
    let out = home.hook(
        "user-prompt-submit",
        json!({"session_id": session, "hook_event_name": "UserPromptSubmit", "prompt": "hello"}),
    );
    assert_eq!(out, "");

    let prompt = format!("[PALIADIN:{turn}] list files; \"now\"\nplease");
    let out = home.hook(
        "user-prompt-submit",
        json!({"session_id": session, "hook_event_name": "UserPromptSubmit", "prompt": prompt}),
    );
    let out: Value = serde_json::from_str(&out).unwrap();
    let context = out["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    assert!(context.contains(&format!("{turn}.md.tmp")), "{context}");
    let ack = std::fs::read_to_string(home.turn_file(turn, "ack")).unwrap();
    assert_eq!(ack.lines().count(), 1, "{ack:?}");

    home.hook(
        "post-tool-use",
        json!({"session_id": session, "tool_name": "Bash",
               "tool_input": {"command": "ls   -la\n  /tmp", "description": "List"}}),
    );
    let events = std::fs::read_to_string(home.turn_file(turn, "events")).unwrap();
    assert_eq!(
        events,
        "{\"type\":\"activity\",\"text\":\"Bash: ls -la /tmp\"}\n"
    );

    // First stop without a reply file: blocked, with the path to write.
    let stop = json!({"session_id": session, "hook_event_name": "Stop", "stop_hook_active": false});
    let out: Value = serde_json::from_str(&home.hook("stop", stop)).unwrap();
    assert_eq!(out["decision"], "block");
    assert!(
        out["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("{turn}.md"))
    );
    assert!(!home.turn_file(turn, "md").exists());

    // Second stop still without it: the reply is written from the last assistant message.
    let message = "Here are the files:\n\n- a.txt\n- b.txt";
    let stop = json!({"session_id": session, "stop_hook_active": true,
                      "last_assistant_message": message});
    assert_eq!(home.hook("stop", stop), "");
    let reply = parse_reply(&std::fs::read_to_string(home.turn_file(turn, "md")).unwrap())
        .expect("the fallback reply parses");
    assert_eq!(reply.text, message);
    assert_eq!(reply.trailer.classifier_tag, "fallback");
    assert!(reply.trailer.used_tools.is_empty());

    // The turn is no longer pending: further stops and tools do nothing.
    assert_eq!(home.hook("stop", json!({"session_id": session})), "");
    home.hook(
        "post-tool-use",
        json!({"session_id": session, "tool_name": "Read", "tool_input": {"file_path": "/x"}}),
    );
    assert_eq!(
        std::fs::read_to_string(home.turn_file(turn, "events")).unwrap(),
        events
    );
}

#[test]
fn a_written_md_tmp_is_published_and_lets_claude_stop() {
    let home = Home::new();
    home.install(&[]);
    let turn = Uuid::new_v4();
    let session = json!("sess-2");
    home.hook(
        "user-prompt-submit",
        json!({"session_id": session, "prompt": format!("[PALIADIN:{turn}] hi")}),
    );
    let tmp = home.turn_file(turn, "md.tmp");
    let trailer = r#"<!-- paliadin {"used_tools":["Write"],"rows_seen":0,"chip_count":0,"classifier_tag":"smalltalk"} -->"#;
    std::fs::write(&tmp, format!("Hi there!\n{trailer}\n")).unwrap();
    home.hook(
        "post-tool-use",
        json!({"session_id": session, "tool_name": "Write",
               "tool_input": {"file_path": tmp, "content": "…"}}),
    );
    assert!(!tmp.exists());
    let reply = parse_reply(&std::fs::read_to_string(home.turn_file(turn, "md")).unwrap()).unwrap();
    assert_eq!(reply.text, "Hi there!");
    assert_eq!(reply.trailer.classifier_tag, "smalltalk");
    // Writing the reply file is plumbing, not activity.
    assert!(!home.turn_file(turn, "events").exists());
    assert_eq!(home.hook("stop", json!({"session_id": session})), "");
}

#[test]
fn claude_is_busy_from_the_prompt_to_a_stop_the_hook_allows() {
    let home = Home::new();
    home.install(&[]);
    let turn = Uuid::new_v4();
    let session = json!("sess-3");
    home.hook(
        "user-prompt-submit",
        json!({"session_id": session, "prompt": format!("[PALIADIN:{turn}] hi")}),
    );
    assert!(
        home.busy().exists(),
        "the prompt hook marks the session busy"
    );
    // A blocked stop keeps Claude working: still busy.
    let out = home.hook("stop", json!({"session_id": session}));
    assert!(out.contains("block"), "{out}");
    assert!(home.busy().exists());
    assert!(!home.stopped().exists(), "a blocked stop is no stop");
    // The fallback reply lets it stop: no longer busy, and stamped as just stopped (the
    // worker lets the screen settle before the next paste).
    let stop = json!({"session_id": session, "last_assistant_message": "Hello"});
    assert_eq!(home.hook("stop", stop), "");
    assert!(!home.busy().exists());
    assert!(home.stopped().exists(), "the Stop hook leaves its stamp");
}

#[test]
fn the_stop_hook_lets_claude_stop_once_the_worker_has_concluded_the_turn() {
    let home = Home::new();
    home.install(&[]);
    let done = home.spool().join("done");
    for (i, conclude) in ["reply moved to done/", "receipt removed"]
        .iter()
        .enumerate()
    {
        let turn = Uuid::new_v4();
        let session = json!(format!("sess-c{i}"));
        home.hook(
            "user-prompt-submit",
            json!({"session_id": session, "prompt": format!("[PALIADIN:{turn}] hi")}),
        );
        std::fs::create_dir_all(&done).unwrap();
        if i == 0 {
            let trailer = r#"<!-- paliadin {"used_tools":[],"rows_seen":0,"chip_count":0,"classifier_tag":"x"} -->"#;
            std::fs::write(done.join(format!("{turn}.md")), format!("Hi\n{trailer}\n")).unwrap();
        }
        let ack = home.turn_file(turn, "ack");
        std::fs::rename(&ack, done.join(format!("{turn}.ack"))).unwrap();
        // Claude stops after answering; the worker has moved the files away already.
        let out = home.hook("stop", json!({"session_id": session}));
        assert_eq!(out, "", "{conclude}: the stop was blocked");
        assert!(
            !home.turn_file(turn, "md").exists(),
            "{conclude}: no fallback written"
        );
        assert!(!home.busy().exists(), "{conclude}");
    }
}

/// Waits (bounded) until `path` exists: the hook under test writes it from another process.
fn wait_for(path: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn the_permission_hook_asks_through_the_spool_and_answers_claude() {
    let home = Home::new();
    home.install(&[]);
    let (session, turn) = ("perm-session", Uuid::new_v4());
    let prompt = json!({"session_id": session, "prompt": format!("[PALIADIN:{turn}] run ls")});
    home.hook("user-prompt-submit", prompt);
    let suggestions = json!([{"type": "addRules", "behavior": "allow",
        "rules": [{"toolName": "Bash", "ruleContent": "touch:*"}], "destination": "localSettings"}]);
    let ask = |input: Value| {
        json!({"session_id": session, "hook_event_name": "PermissionRequest",
               "tool_name": "Bash", "tool_input": input, "permission_suggestions": suggestions})
    };
    std::thread::scope(|s| {
        // 1: allow_always → allow with the suggested rules.
        let first = s.spawn(|| {
            home.hook(
                "permission-request",
                ask(json!({"command": "touch /tmp/x", "description": "make x"})),
            )
        });
        let request = home.turn_file(turn, "perm-1.json");
        wait_for(&request);
        let asked: Value =
            serde_json::from_str(&std::fs::read_to_string(&request).unwrap()).unwrap();
        assert_eq!(asked["tool"], "Bash");
        assert_eq!(asked["options"], json!(["allow", "allow_always", "deny"]));
        assert!(
            asked["summary"]
                .as_str()
                .unwrap()
                .starts_with("touch /tmp/x"),
            "{asked}"
        );
        let parsed =
            paliadin_shared::domain::permission::PermissionAsk::parse(asked.to_string().as_bytes());
        assert!(parsed.is_ok(), "{parsed:?}");
        std::fs::write(
            home.turn_file(turn, "perm-1.decision"),
            r#"{"decision":"allow_always","by":"owner"}"#,
        )
        .unwrap();
        let out: Value = serde_json::from_str(&first.join().unwrap()).unwrap();
        let decision = &out["hookSpecificOutput"]["decision"];
        assert_eq!(
            out["hookSpecificOutput"]["hookEventName"],
            "PermissionRequest"
        );
        assert_eq!(decision["behavior"], "allow");
        assert_eq!(decision["updatedPermissions"], suggestions);
        // 2: the next request of the turn takes number 2; a denial carries the reason.
        let second =
            s.spawn(|| home.hook("permission-request", ask(json!({"command": "rm -rf /"}))));
        wait_for(&home.turn_file(turn, "perm-2.json"));
        std::fs::write(
            home.turn_file(turn, "perm-2.decision"),
            r#"{"decision":"deny","message":"not that","by":"owner"}"#,
        )
        .unwrap();
        let out: Value = serde_json::from_str(&second.join().unwrap()).unwrap();
        let decision = &out["hookSpecificOutput"]["decision"];
        assert_eq!(decision["behavior"], "deny");
        assert!(
            decision["message"].as_str().unwrap().contains("not that"),
            "{decision}"
        );
        // 3: the worker concluded the turn (its receipt is gone): deny at once.
        std::fs::remove_file(home.turn_file(turn, "ack")).unwrap();
        let out = home.hook("permission-request", ask(json!({"command": "ls"})));
        assert_eq!(
            out, "",
            "a concluded turn leaves the question to Claude's own dialog"
        );
    });
    // Outside a Paliadin turn the hook says nothing: Claude shows its own dialog.
    let other =
        json!({"session_id": "not-ours", "tool_name": "Bash", "tool_input": {"command": "ls"}});
    assert_eq!(home.hook("permission-request", other), "");
}

//! Pins the Claude Code package in `deploy/skill/` and the compiled hook program `paliadin-hook`:
//! - `install.sh` (HOME pointed at a temp dir) installs the skill, registers `paliadin-hook
//!   <hook>` for the four hook events, merges `~/.claude/settings.json` without losing
//!   unrelated settings or foreign hooks (an earlier version's Python hooks are replaced),
//!   pre-seeds `~/.claude.json`, and is idempotent; `worker doctor` accepts what it installed;
//! - the hooks, run as Claude Code runs them (the registered command, through `sh -c`, hook JSON
//!   on stdin), write the `.ack` line and activity events, block the first stop without a reply,
//!   then write a fallback reply that `parse_reply` accepts; the PermissionRequest hook asks
//!   through the spool and answers Claude with the decision; files the agent planted as
//!   symlinks are never followed.

use paliadin_shared::domain::trailer::parse_reply;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use uuid::Uuid;

/// The tmux session the hooks run in (the worker passes `PALIADIN_SESSION`).
const TMUX_SESSION: &str = "paliadin-0123abcd";

/// The compiled hook program under test.
const HOOK_BIN: &str = env!("CARGO_BIN_EXE_paliadin-hook");

/// The hook events and the hook each runs.
const EVENTS: [(&str, &str); 7] = [
    ("UserPromptSubmit", "user-prompt-submit"),
    ("PostToolUse", "post-tool-use"),
    ("Stop", "stop"),
    ("PermissionRequest", "permission-request"),
    ("StopFailure", "stop-failure"),
    ("PreCompact", "pre-compact"),
    ("PostCompact", "post-compact"),
];

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
        self.install_with(HOOK_BIN, args);
    }

    fn install_with(&self, hook_bin: &str, args: &[&str]) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/skill/install.sh");
        let out = Command::new("sh")
            .arg(script)
            .args(["--hook-bin", hook_bin])
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

    /// Runs an installed hook as Claude Code does: the command registered for its event in
    /// `settings.json`, through the shell, JSON on stdin. It must succeed and say nothing on
    /// stderr.
    fn hook(&self, name: &str, input: Value) -> String {
        let out = self.run_hook(name, input);
        assert!(out.stderr.is_empty(), "hook {name} complained: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// [`Home::hook`] for a run that may report something on stderr.
    fn hook_allowing_stderr(&self, name: &str, input: Value) -> String {
        String::from_utf8(self.run_hook(name, input).stdout).unwrap()
    }

    fn run_hook(&self, name: &str, input: Value) -> std::process::Output {
        let (event, _) = EVENTS.iter().find(|(_, h)| *h == name).unwrap();
        let settings = self.json(".claude/settings.json");
        let command = commands(&settings, event)
            .into_iter()
            .find(|c| c.contains("paliadin-hook"))
            .unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
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
        out
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
    // An earlier version's Python hooks, registered and copied into the skill: replaced.
    let old_hooks = home.dir.join(".claude/skills/paliadin/hooks");
    std::fs::create_dir_all(&old_hooks).unwrap();
    let old = |hook: &str| {
        std::fs::write(old_hooks.join(hook), "#!/usr/bin/env python3\n").unwrap();
        let command = format!("'{}'", old_hooks.join(hook).display());
        json!({"hooks": [{"type": "command", "command": command, "timeout": 30}]})
    };
    std::fs::write(old_hooks.join("paliadin_hooks.py"), "").unwrap();
    let settings = json!({"theme": "dark", "hooks": {
        "Stop": [foreign, old("stop")], "PostToolUse": [{"matcher": "*", "hooks": [
            {"type": "command", "command": "/opt/other/tool-hook"},
            old("post-tool-use")["hooks"][0]]}]}});
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
    for (event, hook) in EVENTS {
        let ours: Vec<String> = commands(&settings, event)
            .into_iter()
            .filter(|c| c.contains("paliadin-hook"))
            .collect();
        assert_eq!(ours, [format!("{HOOK_BIN} {hook}")], "{event}");
    }
    assert_eq!(
        commands(&settings, "PostToolUse")[0],
        "/opt/other/tool-hook",
        "a foreign hook in the same group is kept"
    );
    assert!(!old_hooks.exists(), "the old hook scripts are removed");
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
fn a_stop_failure_writes_the_failure_and_lets_claude_stop() {
    let home = Home::new();
    home.install(&[]);
    let turn = Uuid::new_v4();
    let session = json!("sess-f");
    let prompt = format!("[PALIADIN:{turn}] hello");
    home.hook(
        "user-prompt-submit",
        json!({"session_id": session, "hook_event_name": "UserPromptSubmit", "prompt": prompt}),
    );
    assert!(home.busy().exists(), "the prompt marks the session busy");
    // As Claude Code 2.1.197 sends it when its API key is rejected.
    let failure = json!({"session_id": session, "hook_event_name": "StopFailure",
        "error": "authentication_failed",
        "last_assistant_message": "Invalid API key \u{1b}[31m· Fix external API key"});
    assert_eq!(home.hook("stop-failure", failure), "");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(home.turn_file(turn, "failure")).unwrap())
            .unwrap();
    assert_eq!(
        written,
        json!({"kind": "authentication_failed",
               "message": "Invalid API key  [31m· Fix external API key"})
    );
    assert!(!home.busy().exists(), "Claude may take the next prompt");
    // The turn is no longer pending: a later stop writes nothing for it.
    assert_eq!(home.hook("stop", json!({"session_id": session})), "");
    assert!(!home.turn_file(turn, "md").exists());
}

#[test]
fn a_compaction_reports_its_start_and_end_on_the_pending_turn_only() {
    let home = Home::new();
    home.install(&[]);
    let session = json!("sess-c");
    // A `/compact` typed between turns: no pending turn, nothing written.
    let pre = json!({"session_id": session, "hook_event_name": "PreCompact",
        "trigger": "manual", "custom_instructions": null});
    assert_eq!(home.hook("pre-compact", pre), "");
    let turn = Uuid::new_v4();
    let prompt = format!("[PALIADIN:{turn}] hello");
    home.hook(
        "user-prompt-submit",
        json!({"session_id": session, "hook_event_name": "UserPromptSubmit", "prompt": prompt}),
    );
    // As Claude Code 2.1.197 sends them around an automatic compaction: no output, so nothing
    // is added to the summary's instructions.
    let pre = json!({"session_id": session, "hook_event_name": "PreCompact",
        "trigger": "auto", "custom_instructions": null});
    assert_eq!(home.hook("pre-compact", pre), "");
    let post = json!({"session_id": session, "hook_event_name": "PostCompact",
        "trigger": "auto", "compact_summary": "Summary."});
    assert_eq!(home.hook("post-compact", post), "");
    let events = std::fs::read_to_string(home.turn_file(turn, "events")).unwrap();
    assert_eq!(
        events,
        "{\"type\":\"status\",\"state\":\"compacting\",\"trigger\":\"auto\"}\n\
         {\"type\":\"status\",\"state\":\"compacted\",\"trigger\":\"auto\"}\n"
    );
    assert!(
        home.busy().exists(),
        "the turn goes on after the compaction"
    );
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

#[test]
fn doctor_accepts_the_installed_hooks_and_names_what_is_wrong() {
    use paliadin_shared::doctor::{Report, Status};
    let home = Home::new();
    let check = |home: &Home| {
        let mut report = Report::default();
        paliadin_worker::doctor::local::claude_skill(
            &mut report,
            Path::new("/usr/bin/claude"),
            home.dir.to_str(),
        );
        let c = report.checks.pop().unwrap();
        (c.status, c.detail)
    };
    // A program installed elsewhere (as a package does), then removed.
    let bin = home.dir.join("lib/paliadin-hook");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(HOOK_BIN, &bin).unwrap();
    home.install_with(bin.to_str().unwrap(), &[]);
    let (status, detail) = check(&home);
    assert_eq!(status, Status::Ok, "{detail}");
    assert!(detail.contains(bin.to_str().unwrap()), "{detail}");
    std::fs::remove_file(&bin).unwrap();
    let (status, detail) = check(&home);
    assert_eq!(status, Status::Fail, "{detail}");
    assert!(detail.contains("missing or not executable"), "{detail}");
    // Only some events registered.
    let mut settings = home.json(".claude/settings.json");
    settings["hooks"]
        .as_object_mut()
        .unwrap()
        .remove("PostToolUse");
    let path = home.dir.join(".claude/settings.json");
    std::fs::write(&path, settings.to_string()).unwrap();
    let (status, detail) = check(&home);
    assert_eq!(status, Status::Fail, "{detail}");
    assert!(detail.contains("for PostToolUse"), "{detail}");
    // An earlier version's Python hooks: still working, but worth reinstalling.
    let old = json!({"hooks": {"Stop": [{"hooks": [{"type": "command",
        "command": "/h/.claude/skills/paliadin/hooks/stop"}]}]}});
    std::fs::write(&path, old.to_string()).unwrap();
    let (status, detail) = check(&home);
    assert_eq!(status, Status::Warn, "{detail}");
}

#[test]
fn the_hooks_never_follow_a_planted_symlink() {
    let home = Home::new();
    home.install(&[]);
    let turn = Uuid::new_v4();
    let session = json!("sess-link");
    home.hook(
        "user-prompt-submit",
        json!({"session_id": session, "prompt": format!("[PALIADIN:{turn}] hi")}),
    );
    // The agent points the activity file and the reply draft at files outside the spool.
    let outside = home.dir.join("outside");
    std::fs::write(&outside, "precious\n").unwrap();
    std::os::unix::fs::symlink(&outside, home.turn_file(turn, "events")).unwrap();
    let trailer =
        r#"<!-- paliadin {"used_tools":[],"rows_seen":0,"chip_count":0,"classifier_tag":"x"} -->"#;
    let secret = home.dir.join("secret");
    std::fs::write(&secret, format!("not yours\n{trailer}\n")).unwrap();
    std::os::unix::fs::symlink(&secret, home.turn_file(turn, "md.tmp")).unwrap();
    let mut child = Command::new(HOOK_BIN)
        .arg("post-tool-use")
        .env("PALIADIN_SPOOL_DIR", home.spool())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = json!({"session_id": session, "tool_name": "Bash",
                       "tool_input": {"command": "ls"}});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "a hook never fails Claude: {out:?}");
    assert!(!out.stderr.is_empty(), "the refusal is reported");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
    // The Stop hook does not publish the symlinked draft; it blocks once as without a reply.
    let out = home.hook_allowing_stderr("stop", json!({"session_id": session}));
    assert!(out.contains("block"), "{out}");
    assert!(!home.turn_file(turn, "md").exists());
}

//! The real Claude Code as the agent, offline: finds the pinned `claude` binary
//! (`deploy/ensure-claude.sh` installs it), gives each test a fresh `HOME` set up by
//! `deploy/skill/install.sh` exactly as an operator would (with the workspace's compiled
//! `paliadin-hook`), and a wrapper command that points
//! Claude at a [`ModelServer`] on loopback. Suites call [`Claude::setup`] and skip, loudly,
//! only when the binary could not be installed on this machine.

use crate::model::ModelServer;
use crate::procs::TmuxRig;
use std::path::{Path, PathBuf};

/// The dummy key Claude Code sends to the scripted model (never a real credential).
pub const API_KEY: &str = "sk-ant-paliadin-test-0123456789abcdefghij";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// `$PALIADIN_CLAUDE_BIN`, else the pinned install in `.dev/claude-code`.
pub fn claude_bin() -> Option<PathBuf> {
    let configured = std::env::var_os("PALIADIN_CLAUDE_BIN").map(PathBuf::from);
    let pinned = repo_root().join(".dev/claude-code/node_modules/.bin/claude");
    configured.or(Some(pinned)).filter(|p| p.exists())
}

/// One test's Claude Code: its scripted model, home, working directory and agent command.
pub struct Claude {
    pub server: ModelServer,
    pub home: PathBuf,
    pub workdir: PathBuf,
    /// What `PALIADIN_AGENT_CMD` should be: a wrapper that sets HOME and the model URL.
    pub agent_cmd: String,
}

impl Claude {
    /// Sets up Claude Code for `rig` (its spool is the one the installer allows), or returns
    /// None after printing why the suite is skipped. Without a binary and without the skip
    /// reason `deploy/test.sh` records when the install failed, the test fails instead.
    pub async fn setup(rig: &TmuxRig) -> Option<Claude> {
        let Some(bin) = claude_bin() else {
            match std::env::var("PALIADIN_CLAUDE_SKIP") {
                Ok(why) => {
                    eprintln!("\n!!! SKIPPED: the real Claude Code suite needs claude: {why}\n");
                    return None;
                }
                Err(_) => panic!(
                    "no claude binary: run deploy/ensure-claude.sh (deploy/test.sh does) \
                     or set PALIADIN_CLAUDE_BIN"
                ),
            }
        };
        let server = ModelServer::start().await;
        let base = rig.spool.parent().expect("rig dir").join("claude");
        let (home, workdir) = (base.join("home"), base.join("work"));
        for d in [&home, &workdir] {
            std::fs::create_dir_all(d).expect("claude dirs");
        }
        std::fs::create_dir_all(&rig.spool).expect("spool");
        std::fs::write(workdir.join("notes.txt"), "a file for the Read tool\n").expect("file");
        install_skill(&home, &workdir, Some(&rig.spool), Some(API_KEY));
        let wrapper = base.join("claude-agent");
        let script = format!(
            "#!/bin/sh\nexport HOME='{}' ANTHROPIC_BASE_URL='{}' ANTHROPIC_API_KEY='{API_KEY}'\n\
             export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1\n\
             exec '{}' \"$@\"\n",
            home.display(),
            server.base_url,
            bin.display()
        );
        std::fs::write(&wrapper, script).expect("wrapper");
        chmod_x(&wrapper);
        Some(Claude {
            server,
            home,
            workdir,
            agent_cmd: wrapper.display().to_string(),
        })
    }

    /// Makes the installed `hook` (`stop`, `post-tool-use`, …) take `secs` longer after it has
    /// done its work (its output kept): Claude Code waits for its hooks, so this widens the
    /// windows in which it is busy although the hook has already acted. The command registered
    /// in `settings.json` (`paliadin-hook <hook>`) is wrapped by a script that runs it, so call
    /// this before Claude starts. Each run is logged; see [`Claude::hook_runs`].
    pub fn slow_hook(&self, hook: &str, secs: f64) {
        let event = match hook {
            "user-prompt-submit" => "UserPromptSubmit",
            "post-tool-use" => "PostToolUse",
            "stop" => "Stop",
            "permission-request" => "PermissionRequest",
            other => panic!("no hook {other}"),
        };
        let path = self.home.join(".claude/settings.json");
        let text = std::fs::read_to_string(&path).expect("settings.json");
        let mut settings: serde_json::Value = serde_json::from_str(&text).expect("settings");
        let entry = settings["hooks"][event]
            .as_array_mut()
            .into_iter()
            .flatten()
            .flat_map(|g| g["hooks"].as_array_mut().into_iter().flatten())
            .find(|h| {
                h["command"]
                    .as_str()
                    .is_some_and(|c| c.contains("paliadin-hook"))
            })
            .expect("the hook is registered");
        let real = entry["command"].as_str().expect("command").to_owned();
        let wrapper = self.home.join(format!("{hook}.slow"));
        let log = self.home.join(format!("{hook}.runs"));
        let script = format!(
            "#!/bin/sh\nt0=$(date +%s.%N)\nout=$({real})\nrc=$?\nprintf '%s' \"$out\"\n\
             sleep {secs}\necho \"$t0 $(date +%s.%N)\" >> '{}'\nexit $rc\n",
            log.display()
        );
        std::fs::write(&wrapper, script).expect("slow hook");
        chmod_x(&wrapper);
        entry["command"] = serde_json::Value::String(format!("'{}'", wrapper.display()));
        std::fs::write(&path, settings.to_string()).expect("settings.json");
    }

    /// When each run of a hook made slow by [`Claude::slow_hook`] started and ended (seconds
    /// since the epoch).
    pub fn hook_runs(&self, hook: &str) -> Vec<(f64, f64)> {
        let log = self.home.join(format!("{hook}.runs"));
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (a, b) = l.split_once(' ')?;
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect()
    }

    /// Lets Claude retry a failed model request at most `n` times (`CLAUDE_CODE_MAX_RETRIES`;
    /// by default 10, waiting 0.5 s × 2^attempt between them). Call before Claude starts.
    pub fn shorten_retries(&self, n: u32) {
        let text = std::fs::read_to_string(&self.agent_cmd).expect("wrapper");
        let text = text.replacen(
            "\nexec ",
            &format!("\nexport CLAUDE_CODE_MAX_RETRIES={n}\nexec "),
            1,
        );
        std::fs::write(&self.agent_cmd, text).expect("wrapper");
    }

    /// The environment a worker process (or host agent) needs to run this Claude.
    pub fn worker_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PALIADIN_AGENT_CMD", self.agent_cmd.clone()),
            // The agent's HOME as the worker knows it (the wrapper sets the same): where the
            // worker looks for a conversation's transcript before resuming it.
            ("HOME", self.home.display().to_string()),
            ("PALIADIN_WORKDIR", self.workdir.display().to_string()),
            // Claude Code takes a few seconds to start; the first turn's clock includes it.
            ("PALIADIN_TURN_TIMEOUT_SECS", "60".to_owned()),
        ]
    }
}

/// Runs `deploy/skill/install.sh` for `home`, as an operator would (with the key in the
/// installer's environment when given, so its use is approved in advance), registering the
/// workspace's `paliadin-hook`.
pub fn install_skill(home: &Path, workdir: &Path, spool: Option<&Path>, key: Option<&str>) {
    let mut cmd = std::process::Command::new(repo_root().join("deploy/skill/install.sh"));
    cmd.arg("--hook-bin")
        .arg(crate::procs::binary("paliadin-hook"));
    cmd.env("HOME", home).env_remove("ANTHROPIC_API_KEY");
    if let Some(key) = key {
        cmd.env("ANTHROPIC_API_KEY", key);
    }
    if let Some(spool) = spool {
        cmd.arg("--spool-dir").arg(spool);
    }
    let out = cmd.arg(workdir).output().expect("run install.sh");
    assert!(out.status.success(), "install.sh: {out:?}");
}

fn chmod_x(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// What Claude Code's own input handling makes of a pasted message before its model sees it
/// (measured on the pinned version; docs/claude-code.md lists them): CRLF → LF, TAB → four
/// spaces, Unicode NFC, trailing whitespace removed.
pub fn as_claude_reads(sent: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let s = sent.replace("\r\n", "\n").replace('\t', "    ");
    s.nfc().collect::<String>().trim_end().to_owned()
}

/// Text that shows a first-start or permission dialog is open.
pub fn dialog_on(screen: &str) -> Option<&'static str> {
    [
        "Detected a custom API key",
        "Do you want to use this API key",
        "Do you trust the files",
        "Choose the text style",
        "Do you want to proceed?",
    ]
    .into_iter()
    .find(|needle| screen.contains(needle))
}

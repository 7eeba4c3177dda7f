//! The real Codex CLI as the agent, offline: finds the pinned `codex` binary
//! (`deploy/ensure-codex.sh` installs it), gives each test a fresh `HOME` and `CODEX_HOME` whose
//! `config.toml` points Codex at an [`OpenAiModel`] on loopback, then runs
//! `deploy/agents/codex/install.sh` exactly as an operator would (with the workspace's compiled
//! `paliadin-hook`). Suites call [`Codex::setup`] and skip, loudly, only when the binary could
//! not be installed on this machine (`PALIADIN_CODEX_SKIP`, set by `deploy/test.sh`).

use crate::claude::repo_root;
use crate::model_openai::OpenAiModel;
use crate::procs::TmuxRig;
use std::path::{Path, PathBuf};

/// The dummy key Codex sends to the scripted model (never a real credential).
pub const API_KEY: &str = "sk-paliadin-codex-test-0123456789";

/// `$PALIADIN_CODEX_BIN`, else the pinned install in `.dev/codex`.
pub fn codex_bin() -> Option<PathBuf> {
    let configured = std::env::var_os("PALIADIN_CODEX_BIN").map(PathBuf::from);
    let pinned = repo_root().join(".dev/codex/node_modules/.bin/codex");
    configured.or(Some(pinned)).filter(|p| p.exists())
}

/// One test's Codex: its scripted model, homes, working directory and agent command.
pub struct Codex {
    pub server: OpenAiModel,
    pub home: PathBuf,
    pub codex_home: PathBuf,
    pub workdir: PathBuf,
    /// What `PALIADIN_AGENT_CMD` should be: a wrapper that sets the homes and the key.
    pub agent_cmd: String,
}

impl Codex {
    /// Sets up Codex for `rig`, or returns None after printing why the suite is skipped.
    /// Without a binary and without the skip reason, the test fails instead.
    pub async fn setup(rig: &TmuxRig) -> Option<Codex> {
        let Some(bin) = codex_bin() else {
            match std::env::var("PALIADIN_CODEX_SKIP") {
                Ok(why) => {
                    eprintln!("\n!!! SKIPPED: the real Codex CLI suite needs codex: {why}\n");
                    return None;
                }
                Err(_) => panic!(
                    "no codex binary: run deploy/ensure-codex.sh (deploy/test.sh does) \
                     or set PALIADIN_CODEX_BIN"
                ),
            }
        };
        let server = OpenAiModel::start().await;
        let base = rig.spool.parent().expect("rig dir").join("codex");
        let (home, workdir) = (base.join("home"), base.join("work"));
        let codex_home = home.join(".codex");
        for d in [&codex_home, &workdir] {
            std::fs::create_dir_all(d).expect("codex dirs");
        }
        std::fs::create_dir_all(&rig.spool).expect("spool");
        std::fs::write(workdir.join("notes.txt"), "a file for cat\n").expect("file");
        // The operator's part: the model provider and the approval policy.
        let config = format!(
            "model = \"gpt-scripted\"\nmodel_provider = \"scripted\"\n\
             approval_policy = \"on-request\"\nsandbox_mode = \"workspace-write\"\n\n\
             [model_providers.scripted]\nname = \"scripted\"\nbase_url = \"{}/v1\"\n\
             env_key = \"PALIADIN_TEST_OPENAI_KEY\"\nwire_api = \"responses\"\n\
             request_max_retries = 0\nstream_max_retries = 0\n",
            server.base_url
        );
        std::fs::write(codex_home.join("config.toml"), config).expect("config.toml");
        install(&home, &codex_home, &workdir, &rig.spool);
        let wrapper = base.join("codex-agent");
        let script = format!(
            "#!/bin/sh\nexport HOME='{}' CODEX_HOME='{}' PALIADIN_TEST_OPENAI_KEY='{API_KEY}'\n\
             exec '{}' \"$@\"\n",
            home.display(),
            codex_home.display(),
            bin.display()
        );
        std::fs::write(&wrapper, script).expect("wrapper");
        chmod_x(&wrapper);
        Some(Codex {
            server,
            home,
            codex_home,
            workdir,
            agent_cmd: wrapper.display().to_string(),
        })
    }

    /// The environment a worker process (or host agent) needs to run this Codex.
    pub fn worker_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PALIADIN_AGENT_CMD", self.agent_cmd.clone()),
            ("PALIADIN_AGENT", "codex".to_owned()),
            ("HOME", self.home.display().to_string()),
            ("PALIADIN_WORKDIR", self.workdir.display().to_string()),
            ("PALIADIN_TURN_TIMEOUT_SECS", "60".to_owned()),
        ]
    }

    /// Codex's rollouts (its conversations) in this home.
    pub fn rollouts(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "jsonl") {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.codex_home.join("sessions"), &mut out);
        out.sort();
        out
    }
}

impl Codex {
    /// Paliadin's kinds (input, output, cache read, cache creation) of what the scripted model
    /// reported on `turn`, summed over its answers (`input` without the cached tokens, which
    /// are `cache_read`, as the worker reads Codex's rollout).
    pub fn reported(&self, turn: uuid::Uuid) -> [i64; 4] {
        let answers: Vec<_> = self
    /// Adds top-level settings (`key = value` lines) to Codex's `config.toml`, before its
    /// tables. Call before Codex starts.
    pub fn configure(&self, lines: &str) {
        let path = self.codex_home.join("config.toml");
        let old = std::fs::read_to_string(&path).expect("config.toml");
        std::fs::write(&path, format!("{}\n{old}", lines.trim_end())).expect("config.toml");
    }

            .server
            .spent()
            .into_iter()
            .filter(|s| s.turn_id == Some(turn))
            .map(|s| s.usage)
            .collect();
        assert!(!answers.is_empty(), "the model answered on {turn}");
        answers.iter().fold([0; 4], |s, u| {
            [
                s[0] + u.input - u.cached,
                s[1] + u.output,
                s[2] + u.cached,
                0,
            ]
        })
    }
}

/// A turn's `usage` (an `end` event's or a history item's) as those four kinds.
pub fn usage_counts(u: &serde_json::Value) -> [i64; 4] {
    let n = |k: &str| u[k].as_i64().unwrap_or_else(|| panic!("{k} in {u}"));
    [
        n("input"),
        n("output"),
        n("cache_read"),
        n("cache_creation"),
    ]
}

impl Drop for Codex {
    /// Codex processes of this home that outlived the test (a daemon, a watcher) are ended.
    fn drop(&mut self) {
        let home = self.codex_home.display().to_string();
        for pid in pids_mentioning(&home) {
            crate::sshd::kill(pid);
        }
    }
}

/// Processes whose command line mentions `needle` (this test's own homes only).
pub fn pids_mentioning(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// Runs `deploy/agents/codex/install.sh` for `home` as an operator would.
pub fn install(home: &Path, codex_home: &Path, workdir: &Path, spool: &Path) {
    let out = std::process::Command::new(repo_root().join("deploy/agents/codex/install.sh"))
        .arg("--hook-bin")
        .arg(crate::procs::binary("paliadin-hook"))
        .arg("--spool-dir")
        .arg(spool)
        .arg(workdir)
        .env("HOME", home)
        .env("CODEX_HOME", codex_home)
        .output()
        .expect("run install.sh");
    assert!(out.status.success(), "codex install.sh: {out:?}");
}

fn chmod_x(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// What Codex's own input handling makes of a pasted message before its model sees it
/// (measured on 0.171.0; docs/agents.md): CRLF → LF, trailing whitespace removed.
pub fn as_codex_reads(sent: &str) -> String {
    sent.replace("\r\n", "\n").trim_end().to_owned()
}

/// Text that shows a first-start or approval screen of Codex is open.
pub fn dialog_on(screen: &str) -> Option<&'static str> {
    [
        "Hooks need review",
        "Do you trust the contents",
        "Sign in with ChatGPT",
        "Update available",
        "Would you like to run the following command?",
    ]
    .into_iter()
    .find(|needle| screen.contains(needle))
}

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

/// Which model provider Codex is pointed at the scripted model through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// A custom `[model_providers.scripted]` whose key comes from `env_key` (the wrapper sets
    /// the variable).
    Custom,
    /// OpenAI's own built-in provider, its base URL moved by `openai_base_url`, logged in by
    /// the installer with `OPENAI_API_KEY` from its environment (the agent's has none).
    OpenAi,
}

impl Codex {
    /// Sets up Codex for `rig`, or returns None after printing why the suite is skipped.
    /// Without a binary and without the skip reason, the test fails instead.
    pub async fn setup(rig: &TmuxRig) -> Option<Codex> {
        Codex::setup_with(rig, Provider::Custom).await
    }

    /// [`Codex::setup`] through `provider`.
    pub async fn setup_with(rig: &TmuxRig, provider: Provider) -> Option<Codex> {
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
        let common = "model = \"gpt-scripted\"\napproval_policy = \"on-request\"\n\
                      sandbox_mode = \"workspace-write\"\n";
        let config = match provider {
            Provider::Custom => format!(
                "{common}model_provider = \"scripted\"\n\n\
                 [model_providers.scripted]\nname = \"scripted\"\nbase_url = \"{}/v1\"\n\
                 env_key = \"PALIADIN_TEST_OPENAI_KEY\"\nwire_api = \"responses\"\n\
                 request_max_retries = 0\nstream_max_retries = 0\n",
                server.base_url
            ),
            Provider::OpenAi => format!("{common}openai_base_url = \"{}/v1\"\n", server.base_url),
        };
        std::fs::write(codex_home.join("config.toml"), config).expect("config.toml");
        let key = (provider == Provider::OpenAi).then_some(API_KEY);
        install_with(&home, &codex_home, &workdir, &rig.spool, key, &bin);
        let wrapper = base.join("codex-agent");
        let env_key = match provider {
            Provider::Custom => format!(" PALIADIN_TEST_OPENAI_KEY='{API_KEY}'"),
            Provider::OpenAi => String::new(),
        };
        let script = format!(
            "#!/bin/sh\nunset OPENAI_API_KEY\nexport HOME='{}' CODEX_HOME='{}'{env_key}\n\
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

    /// Adds top-level settings (`key = value` lines) to Codex's `config.toml`, before its
    /// tables. Call before Codex starts.
    pub fn configure(&self, lines: &str) {
        let path = self.codex_home.join("config.toml");
        let old = std::fs::read_to_string(&path).expect("config.toml");
        std::fs::write(&path, format!("{}\n{old}", lines.trim_end())).expect("config.toml");
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
    let bin = codex_bin().expect("codex");
    install_with(home, codex_home, workdir, spool, None, &bin);
}

/// [`install`] with `OPENAI_API_KEY` in the installer's environment when `key` is given (it
/// logs Codex in with it, through `--codex-bin`).
pub fn install_with(
    home: &Path,
    codex_home: &Path,
    workdir: &Path,
    spool: &Path,
    key: Option<&str>,
    bin: &Path,
) {
    let mut cmd = std::process::Command::new(repo_root().join("deploy/agents/codex/install.sh"));
    cmd.arg("--hook-bin")
        .arg(crate::procs::binary("paliadin-hook"))
        .arg("--codex-bin")
        .arg(bin)
        .arg("--spool-dir")
        .arg(spool)
        .arg(workdir)
        .env("HOME", home)
        .env("CODEX_HOME", codex_home)
        .env_remove("OPENAI_API_KEY");
    if let Some(key) = key {
        cmd.env("OPENAI_API_KEY", key);
    }
    let out = cmd.output().expect("run install.sh");
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

//! The agent-adapter contract: what the worker needs from an agent, and what differs per agent.
//!
//! The worker drives every agent the same way (`docs/agents.md`): it starts the agent in a tmux
//! session with `PALIADIN_SPOOL_DIR`, `PALIADIN_SESSION` and `PALIADIN_CONVERSATION` in its
//! environment, pastes `[PALIADIN:<turn_id>] <message>`, presses Enter, and reads the turn's
//! files in the spool (`docs/agent-protocol.md`). An agent is therefore one [`Adapter`]: the
//! facts below, plus its installer, which puts the instructions and hooks in place so that the
//! agent writes those files. A new agent is one more [`Agent`] and its installer.
//!
//! | what | Claude Code | Codex CLI | demo agent |
//! |---|---|---|---|
//! | start / resume | `--session-id {conversation}` / `--resume {transcript}` | `--no-daemon` (Codex picks the id) / `resume {transcript_id} --no-daemon` | `--session-id` / `--resume {conversation}` |
//! | instructions + hooks | `deploy/skill/install.sh`: `~/.claude/skills/paliadin`, `settings.json` | `deploy/agents/codex/install.sh`: `$CODEX_HOME/AGENTS.md`, `config.toml` `[hooks]` (trusted) | built in |
//! | transcript | `~/.claude/projects/<slug>/<conversation>.jsonl` | `$CODEX_HOME/sessions/…/rollout-…-<id>.jsonl`, named by the prompt hook in `<spool>/.codex-<conversation>` | `<spool>/demo-memory/` |
//! | usage, work log | transcript (`crate::usage::transcript`, `crate::worklog::transcript`) | rollout (`crate::usage::codex`, `crate::worklog::codex`) | work log from its conversation file |
//! | receipt, busy | `UserPromptSubmit` hook | `UserPromptSubmit` hook | itself |
//! | reply | `.md.tmp` (Write tool) published by `PostToolUse`/`Stop` | `.md.tmp` (one shell command) published by `Stop` | itself |
//! | permission | `PermissionRequest` hook | `PermissionRequest` hook (`Bash`) | `/dialog` |
//! | failure | `StopFailure` hook (+ the screen) | the rollout's `task_complete` error (`codex-watch`) | `fail …` |
//! | compaction status | `PreCompact` / `PostCompact` hooks | the same hooks | `/compact` |
//! | first-run dialogs | pre-seeded in `~/.claude.json` | hook trust and project trust pre-seeded in `config.toml`; API-key login from the installer's `OPENAI_API_KEY`; no update check | none |
//! | interrupt | Escape | Escape (`Interrupt` hook) | Escape |
//!
//! [`crate::tmux::launch::AgentKind`] is the older, coarser view that code outside this
//! contract still matches on: Codex counts as `Other` there (no transcript store).

use crate::tmux::AgentEnv;
use crate::tmux::launch::AgentKind;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Which agent runs in the tmux sessions (`PALIADIN_AGENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    Claude,
    Codex,
    Demo,
    /// Any other program: no start or resume arguments, no transcript.
    Other,
}

/// What differs per agent (see the module docs for the whole table).
#[derive(Debug)]
pub struct Adapter {
    pub agent: Agent,
    /// Arguments that start a conversation (`{conversation}`: its UUID).
    pub start: &'static [&'static str],
    /// Arguments that continue one (`{transcript}`: the transcript file; `{transcript_id}`: the
    /// UUID its name ends with); None: the agent cannot resume.
    pub resume: Option<&'static [&'static str]>,
    /// The installer of its instructions and hooks (relative to the repository).
    pub installer: Option<&'static str>,
    /// The agent's hook events and the `paliadin-hook` command each runs.
    pub hooks: &'static [(&'static str, &'static str)],
    /// Words of first-run screens that must never show on an unattended start.
    pub first_run: &'static [&'static str],
    /// The tmux key that interrupts the agent's current answer.
    pub interrupt: &'static str,
}

const CLAUDE: Adapter = Adapter {
    agent: Agent::Claude,
    start: &["--session-id", "{conversation}"],
    resume: Some(&["--resume", "{transcript}"]),
    installer: Some("deploy/skill/install.sh"),
    hooks: &[
        ("UserPromptSubmit", "user-prompt-submit"),
        ("PostToolUse", "post-tool-use"),
        ("Stop", "stop"),
        ("PermissionRequest", "permission-request"),
        ("StopFailure", "stop-failure"),
        ("PreCompact", "pre-compact"),
        ("PostCompact", "post-compact"),
    ],
    first_run: &[
        "Detected a custom API key",
        "Do you trust the files",
        "Choose the text style",
    ],
    interrupt: "Escape",
};

const CODEX: Adapter = Adapter {
    agent: Agent::Codex,
    // No update screen; no shared background app server left behind when the agent stops.
    start: &["--no-daemon", "-c", "check_for_update_on_startup=false"],
    resume: Some(&[
        "resume",
        "{transcript_id}",
        "--no-daemon",
        "-c",
        "check_for_update_on_startup=false",
    ]),
    installer: Some("deploy/agents/codex/install.sh"),
    hooks: &[
        ("UserPromptSubmit", "codex-user-prompt-submit"),
        ("PostToolUse", "post-tool-use"),
        ("Stop", "codex-stop"),
        ("PermissionRequest", "permission-request"),
        ("Interrupt", "codex-interrupt"),
        ("PreCompact", "pre-compact"),
        ("PostCompact", "post-compact"),
    ],
    first_run: &[
        "Hooks need review",
        "Do you trust the contents of this directory",
        "Sign in with ChatGPT",
        "Update available",
    ],
    interrupt: "Escape",
};

const DEMO: Adapter = Adapter {
    agent: Agent::Demo,
    start: &["--session-id", "{conversation}"],
    resume: Some(&["--resume", "{conversation}"]),
    installer: None,
    hooks: &[],
    first_run: &[],
    interrupt: "Escape",
};

const OTHER: Adapter = Adapter {
    agent: Agent::Other,
    start: &[],
    resume: None,
    installer: None,
    hooks: &[],
    first_run: &[],
    interrupt: "Escape",
};

impl Agent {
    /// `PALIADIN_AGENT` when set (`claude`, `codex`, `demo`, `other`), else from the agent
    /// command's program name.
    pub fn detect(setting: Option<&str>, argv0: Option<&str>) -> Result<Agent, String> {
        match setting.map(str::trim).filter(|s| !s.is_empty()) {
            Some("claude") => Ok(Agent::Claude),
            Some("codex") => Ok(Agent::Codex),
            Some("demo") => Ok(Agent::Demo),
            Some("other") => Ok(Agent::Other),
            Some(s) => Err(format!(
                "PALIADIN_AGENT={s:?}: expected claude, codex, demo or other"
            )),
            None => {
                let name = argv0
                    .map(|p| p.rsplit('/').next().unwrap_or(p))
                    .unwrap_or("");
                Ok(if name.starts_with("claude") {
                    Agent::Claude
                } else if name.starts_with("codex") {
                    Agent::Codex
                } else if name.starts_with("paliadin-demo-agent") {
                    Agent::Demo
                } else {
                    Agent::Other
                })
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Agent::Claude => "claude",
            Agent::Codex => "codex",
            Agent::Demo => "demo",
            Agent::Other => "other",
        }
    }

    /// The kind recorded with each turn it answers (`turns.agent`, shown on the page).
    pub fn answered_as(self) -> paliadin_shared::domain::AgentKind {
        use paliadin_shared::domain::AgentKind as K;
        match self {
            Agent::Claude => K::Claude,
            Agent::Codex => K::Codex,
            Agent::Demo => K::Demo,
            Agent::Other => K::Other,
        }
    }

    /// The coarse [`AgentKind`] of code that predates this contract.
    pub fn kind(self) -> AgentKind {
        match self {
            Agent::Claude => AgentKind::Claude,
            Agent::Demo => AgentKind::Demo,
            Agent::Codex | Agent::Other => AgentKind::Other,
        }
    }

    pub fn adapter(self) -> &'static Adapter {
        match self {
            Agent::Claude => &CLAUDE,
            Agent::Codex => &CODEX,
            Agent::Demo => &DEMO,
            Agent::Other => &OTHER,
        }
    }

    /// Where this agent keeps the transcript of `conversation` on this host, for an agent
    /// started in `workdir` with `env`, its spool at `spool`; None when it cannot be named.
    pub fn transcript(
        self,
        env: &AgentEnv,
        workdir: &Path,
        spool: &Path,
        conversation: Uuid,
    ) -> Option<PathBuf> {
        match self {
            Agent::Claude => crate::tmux::launch::claude_transcript(env, workdir, conversation),
            Agent::Codex => codex_rollout(spool, conversation),
            Agent::Demo | Agent::Other => None,
        }
    }
}

/// The file in which Codex's prompt hook names the rollout of a conversation.
pub fn codex_link(spool: &Path, conversation: Uuid) -> PathBuf {
    spool.join(format!(".codex-{conversation}"))
}

/// The largest `.codex-<conversation>` read.
const MAX_LINK: u64 = 4096;

/// Codex's rollout of `conversation`, as its prompt hook recorded it: an absolute path to a
/// `rollout-…-<uuid>.jsonl` file (anything else is ignored).
pub fn codex_rollout(spool: &Path, conversation: Uuid) -> Option<PathBuf> {
    use std::io::Read;
    let file = crate::spool::open_regular(&codex_link(spool, conversation)).ok()??;
    let mut text = String::new();
    file.take(MAX_LINK).read_to_string(&mut text).ok()?;
    let path = PathBuf::from(text.trim());
    let name = path.file_name()?.to_str()?;
    let ok = path.is_absolute()
        && name.starts_with("rollout-")
        && name.ends_with(".jsonl")
        && transcript_id(&path).is_some();
    ok.then_some(path)
}

/// The UUID a transcript file's name ends with (`rollout-<time>-<uuid>.jsonl`, `<uuid>.jsonl`).
pub fn transcript_id(path: &Path) -> Option<Uuid> {
    let stem = path.file_stem()?.to_str()?;
    let at = stem.len().checked_sub(36)?;
    Uuid::try_parse(stem.get(at..)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_comes_from_the_setting_or_the_program_name() {
        let a = |s, p| Agent::detect(s, p).unwrap();
        assert_eq!(a(None, Some("/x/codex")), Agent::Codex);
        assert_eq!(a(Some("codex"), Some("wrapper")), Agent::Codex);
        assert_eq!(a(None, Some("claude")), Agent::Claude);
        assert_eq!(a(None, Some("paliadin-demo-agent")), Agent::Demo);
        assert_eq!(a(None, Some("bash")), Agent::Other);
        assert!(Agent::detect(Some("gpt"), None).is_err());
        assert_eq!(Agent::Codex.kind(), AgentKind::Other);
        for agent in [Agent::Claude, Agent::Codex, Agent::Demo, Agent::Other] {
            assert_eq!(agent.adapter().agent, agent);
            assert_eq!(Agent::detect(Some(agent.as_str()), None).unwrap(), agent);
        }
    }

    #[test]
    fn codex_s_rollout_is_read_from_the_prompt_hook_s_link() {
        let spool = std::env::temp_dir().join(format!("paliadin-agent-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&spool).unwrap();
        let conv = Uuid::new_v4();
        assert_eq!(codex_rollout(&spool, conv), None);
        let rollout = "/h/.codex/sessions/2026/12/06/rollout-2026-12-06T14-07-24-01a24bae-4f09-72e1-8df9-45b43166c836.jsonl";
        std::fs::write(codex_link(&spool, conv), format!("{rollout}\n")).unwrap();
        let got = codex_rollout(&spool, conv).unwrap();
        assert_eq!(got, Path::new(rollout));
        assert_eq!(
            transcript_id(&got).unwrap().to_string(),
            "01a24bae-4f09-72e1-8df9-45b43166c836"
        );
        for bad in [
            "relative/rollout-x.jsonl",
            "/etc/passwd",
            "/x/rollout-short.jsonl",
        ] {
            std::fs::write(codex_link(&spool, conv), bad).unwrap();
            assert_eq!(codex_rollout(&spool, conv), None, "{bad}");
        }
        std::fs::remove_dir_all(&spool).unwrap();
    }
}

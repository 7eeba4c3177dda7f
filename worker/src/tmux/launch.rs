//! How an agent starts a conversation and continues one: each Paliadin conversation (its
//! `session_id`) owns one agent conversation of the same id, started with the agent's *start*
//! arguments and, whenever its agent is started again (a crash, a lost tmux server, a failover,
//! a switch between conversations), continued with its *resume* arguments, so the model sees the
//! whole earlier conversation (`docs/claude-code.md`, "Conversations").
//!
//! | agent (`PALIADIN_AGENT`) | start | resume |
//! |---|---|---|
//! | `claude` | `--session-id {conversation}` | `--resume {conversation}` |
//! | `demo` | `--session-id {conversation}` | `--resume {conversation}` |
//! | `other` | nothing | cannot resume |
//!
//! `PALIADIN_AGENT` defaults from the agent command's program name (`claude…` is Claude Code,
//! `paliadin-demo-agent…` the demo agent); `PALIADIN_AGENT_START_ARGS` and
//! `PALIADIN_AGENT_RESUME_ARGS` (split like a shell line, `{conversation}` replaced by the
//! conversation's UUID) override the table, for any agent. An agent without resume arguments
//! forgets earlier turns whenever it restarts, and says so (`doctor`).

use super::config::{AgentCmdError, split_agent_cmd};
use uuid::Uuid;

/// Where the conversation's id goes in the argument templates.
pub const PLACEHOLDER: &str = "{conversation}";

/// Which agent the command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentKind {
    Claude,
    Demo,
    Other,
}

impl AgentKind {
    /// `PALIADIN_AGENT` when set (`claude`, `demo`, `other`), else from the program's name.
    pub fn detect(setting: Option<&str>, argv0: Option<&str>) -> Result<AgentKind, String> {
        match setting.map(str::trim).filter(|s| !s.is_empty()) {
            Some("claude") => Ok(AgentKind::Claude),
            Some("demo") => Ok(AgentKind::Demo),
            Some("other") => Ok(AgentKind::Other),
            Some(s) => Err(format!(
                "PALIADIN_AGENT={s:?}: expected claude, demo or other"
            )),
            None => {
                let name = argv0
                    .map(|p| p.rsplit('/').next().unwrap_or(p))
                    .unwrap_or("");
                Ok(if name.starts_with("claude") {
                    AgentKind::Claude
                } else if name.starts_with("paliadin-demo-agent") {
                    AgentKind::Demo
                } else {
                    AgentKind::Other
                })
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::Claude => "claude",
            AgentKind::Demo => "demo",
            AgentKind::Other => "other",
        }
    }
}

/// Whether a conversation's agent starts it or continues it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Start,
    Resume,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Start => "start",
            Mode::Resume => "resume",
        }
    }
}

/// The argument templates of one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub kind: AgentKind,
    start: Vec<String>,
    resume: Option<Vec<String>>,
}

impl Launch {
    /// The table's arguments for `kind`.
    pub fn for_kind(kind: AgentKind) -> Launch {
        let words = |a: &str, b: &str| vec![a.to_owned(), b.to_owned()];
        match kind {
            AgentKind::Claude | AgentKind::Demo => Launch {
                kind,
                start: words("--session-id", PLACEHOLDER),
                resume: Some(words("--resume", PLACEHOLDER)),
            },
            AgentKind::Other => Launch {
                kind,
                start: Vec::new(),
                resume: None,
            },
        }
    }

    /// [`Launch::for_kind`] with the operator's overrides (empty: none; a resume setting of
    /// `-` means the agent cannot resume).
    pub fn with_overrides(
        kind: AgentKind,
        start: Option<&str>,
        resume: Option<&str>,
    ) -> Result<Launch, AgentCmdError> {
        let mut l = Launch::for_kind(kind);
        if let Some(s) = start.filter(|s| !s.trim().is_empty()) {
            l.start = split_agent_cmd(s)?;
        }
        match resume.map(str::trim).filter(|s| !s.is_empty()) {
            Some("-") => l.resume = None,
            Some(r) => l.resume = Some(split_agent_cmd(r)?),
            None => {}
        }
        Ok(l)
    }

    /// Whether the agent can continue a conversation after a restart.
    pub fn can_resume(&self) -> bool {
        self.resume.is_some()
    }

    /// What to do for a conversation that `continues` (has turns that reached an agent).
    pub fn mode(&self, continues: bool) -> Mode {
        if continues && self.can_resume() {
            Mode::Resume
        } else {
            Mode::Start
        }
    }

    /// The arguments appended to the agent command, or None when `mode` is not possible.
    pub fn args(&self, mode: Mode, conversation: Uuid) -> Option<Vec<String>> {
        let template = match mode {
            Mode::Start => Some(&self.start),
            Mode::Resume => self.resume.as_ref(),
        }?;
        let id = conversation.to_string();
        Some(
            template
                .iter()
                .map(|a| a.replace(PLACEHOLDER, &id))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_comes_from_the_setting_or_the_program_name() {
        let k = |s, a| AgentKind::detect(s, a).unwrap();
        assert_eq!(k(None, Some("/opt/bin/claude")), AgentKind::Claude);
        assert_eq!(k(None, Some("claude-agent")), AgentKind::Claude);
        assert_eq!(k(None, Some("paliadin-demo-agent")), AgentKind::Demo);
        assert_eq!(k(None, Some("my-agent")), AgentKind::Other);
        assert_eq!(k(Some("claude"), Some("my-agent")), AgentKind::Claude);
        assert!(AgentKind::detect(Some("gpt"), None).is_err());
    }

    #[test]
    fn templates_name_the_conversation() {
        let id = Uuid::nil();
        let l = Launch::for_kind(AgentKind::Claude);
        assert_eq!(l.mode(true), Mode::Resume);
        assert_eq!(l.mode(false), Mode::Start);
        assert_eq!(
            l.args(Mode::Resume, id).unwrap(),
            ["--resume", "00000000-0000-0000-0000-000000000000"]
        );
        let other = Launch::for_kind(AgentKind::Other);
        assert!(!other.can_resume());
        assert_eq!(other.mode(true), Mode::Start);
        assert_eq!(other.args(Mode::Start, id).unwrap(), Vec::<String>::new());
        let custom = Launch::with_overrides(
            AgentKind::Other,
            Some("--new 'conv={conversation}'"),
            Some("--continue {conversation}"),
        )
        .unwrap();
        assert_eq!(
            custom.args(Mode::Start, id).unwrap(),
            ["--new", "conv=00000000-0000-0000-0000-000000000000"]
        );
        assert!(custom.can_resume());
        let none = Launch::with_overrides(AgentKind::Claude, None, Some("-")).unwrap();
        assert!(!none.can_resume());
    }
}

/// The settings that choose an agent's [`Launch`] (the worker's and the host agent's flags).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct LaunchSettings {
    /// Which agent the command runs: `claude`, `demo` or `other` (default: from the program's
    /// name). Decides how a conversation starts and resumes (docs/claude-code.md,
    /// "Conversations").
    #[arg(long = "agent", env = "PALIADIN_AGENT")]
    pub agent: Option<String>,
    /// Arguments that start a conversation, `{conversation}` replaced by its UUID (default for
    /// claude and demo: `--session-id {conversation}`; none for other agents).
    #[arg(long, env = "PALIADIN_AGENT_START_ARGS")]
    pub agent_start_args: Option<String>,
    /// Arguments that continue one after a restart (default for claude and demo: `--resume
    /// {conversation}`); `-`: the agent cannot resume (it forgets earlier turns on a restart).
    #[arg(long, env = "PALIADIN_AGENT_RESUME_ARGS")]
    pub agent_resume_args: Option<String>,
}

impl LaunchSettings {
    /// The launch of the agent command `argv0`.
    pub fn launch(&self, argv0: Option<&str>) -> Result<Launch, String> {
        let kind = AgentKind::detect(self.agent.as_deref(), argv0)?;
        Launch::with_overrides(
            kind,
            self.agent_start_args.as_deref(),
            self.agent_resume_args.as_deref(),
        )
        .map_err(|e| format!("PALIADIN_AGENT_START_ARGS / PALIADIN_AGENT_RESUME_ARGS: {e}"))
    }

    /// The same settings as host-agent flags (`accounts://` hosts pass them on).
    pub fn as_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (flag, v) in [
            ("--agent", &self.agent),
            ("--agent-start-args", &self.agent_start_args),
            ("--agent-resume-args", &self.agent_resume_args),
        ] {
            if let Some(v) = v.as_ref().filter(|v| !v.trim().is_empty()) {
                out.push(flag.to_owned());
                out.push(v.clone());
            }
        }
        out
    }
}

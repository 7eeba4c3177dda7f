//! How an agent starts a conversation and continues one: each Paliadin conversation (its
//! `session_id`) owns one agent conversation of the same id, started with the agent's *start*
//! arguments and, whenever its agent is started again (a crash, a lost tmux server, a failover,
//! a switch between conversations), continued with its *resume* arguments, so the model sees the
//! whole earlier conversation (`docs/claude-code.md`, "Conversations").
//!
//! | agent (`PALIADIN_AGENT`) | start | resume |
//! |---|---|---|
//! | `claude` | `--session-id {conversation}` | `--resume {transcript}` |
//! | `codex` | `--no-daemon -c check_for_update_on_startup=false` | `resume {transcript_id} --no-daemon -c …` |
//! | `demo` | `--session-id {conversation}` | `--resume {conversation}` |
//! | `other` | nothing | cannot resume |
//!
//! The table is the agent-adapter contract's ([`crate::agent::Adapter`]). Codex names its
//! conversations itself: its prompt hook records the rollout of each Paliadin conversation in
//! the spool ([`crate::agent::codex_rollout`]), and `{transcript_id}` is the id that file's
//! name ends with.
//!
//! `{transcript}` is the conversation's transcript file where Claude Code keeps it,
//! `<CLAUDE_CONFIG_DIR or $HOME/.claude>/projects/<workdir, every character but [A-Za-z0-9]
//! turned into ->/<conversation>.jsonl` (the agent's `HOME` and `CLAUDE_CONFIG_DIR`, from its
//! environment): Claude Code 2.1.197 started in a terminal finds no conversation by its id
//! ("No conversation found with session ID", although `claude -p --resume <id>` finds it), but
//! resumes one named by its file, keeping its id. When that file is not on this host (a
//! failover, a wiped home), the conversation is started afresh instead of failing.
//!
//! `PALIADIN_AGENT` defaults from the agent command's program name (`claude…` is Claude Code,
//! `paliadin-demo-agent…` the demo agent); `PALIADIN_AGENT_START_ARGS` and
//! `PALIADIN_AGENT_RESUME_ARGS` (split like a shell line, `{conversation}` replaced by the
//! conversation's UUID) override the table, for any agent. An agent without resume arguments
//! forgets earlier turns whenever it restarts, and says so (`doctor`).

use super::config::{AgentCmdError, split_agent_cmd};
use crate::agent::Agent;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Where the conversation's id goes in the argument templates.
pub const PLACEHOLDER: &str = "{conversation}";
/// Where the conversation's transcript file goes (Claude Code's; see the module docs).
pub const TRANSCRIPT: &str = "{transcript}";
/// Where the UUID at the end of the transcript file's name goes (Codex's session id).
pub const TRANSCRIPT_ID: &str = "{transcript_id}";

/// Which agent the command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentKind {
    Claude,
    Demo,
    Other,
}

impl AgentKind {
    /// `PALIADIN_AGENT` when set (`claude`, `codex`, `demo`, `other`), else from the program's
    /// name ([`Agent::detect`]; Codex is `Other` here).
    pub fn detect(setting: Option<&str>, argv0: Option<&str>) -> Result<AgentKind, String> {
        Agent::detect(setting, argv0).map(Agent::kind)
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
    /// The agent of the contract ([`crate::agent`]); `kind` is its coarse view.
    pub agent: Agent,
    start: Vec<String>,
    resume: Option<Vec<String>>,
}

impl Launch {
    /// The table's arguments for `kind`.
    pub fn for_kind(kind: AgentKind) -> Launch {
        Launch::for_agent(match kind {
            AgentKind::Claude => Agent::Claude,
            AgentKind::Demo => Agent::Demo,
            AgentKind::Other => Agent::Other,
        })
    }

    /// The arguments of `agent`'s adapter ([`crate::agent::Adapter`]).
    pub fn for_agent(agent: Agent) -> Launch {
        let a = agent.adapter();
        let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Launch {
            kind: agent.kind(),
            agent,
            start: words(a.start),
            resume: a.resume.map(words),
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
        l.set_overrides(start, resume)?;
        Ok(l)
    }

    /// [`Launch::for_agent`] with the operator's overrides.
    pub fn with_agent_overrides(
        agent: Agent,
        start: Option<&str>,
        resume: Option<&str>,
    ) -> Result<Launch, AgentCmdError> {
        let mut l = Launch::for_agent(agent);
        l.set_overrides(start, resume)?;
        Ok(l)
    }

    fn set_overrides(
        &mut self,
        start: Option<&str>,
        resume: Option<&str>,
    ) -> Result<(), AgentCmdError> {
        let l = self;
        if let Some(s) = start.filter(|s| !s.trim().is_empty()) {
            l.start = split_agent_cmd(s)?;
        }
        match resume.map(str::trim).filter(|s| !s.is_empty()) {
            Some("-") => l.resume = None,
            Some(r) => l.resume = Some(split_agent_cmd(r)?),
            None => {}
        }
        Ok(())
    }

    /// Whether the agent can continue a conversation after a restart.
    pub fn can_resume(&self) -> bool {
        self.resume.is_some()
    }

    /// What to do for a conversation that `continues` (has turns that reached an agent), given
    /// where its transcript would be (`transcript`: None when it cannot be named). A resume
    /// that needs the transcript file starts afresh when the file is not here.
    pub fn mode(&self, continues: bool, transcript: Option<&Path>) -> Mode {
        let Some(resume) = self.resume.as_ref().filter(|_| continues) else {
            return Mode::Start;
        };
        let needs_file = resume
            .iter()
            .any(|a| a.contains(TRANSCRIPT) || a.contains(TRANSCRIPT_ID));
        if needs_file && !transcript.is_some_and(Path::is_file) {
            tracing::info!(transcript = ?transcript, "no transcript of the conversation here: starting it afresh");
            return Mode::Start;
        }
        Mode::Resume
    }

    /// The arguments appended to the agent command, or None when `mode` is not possible.
    pub fn args(
        &self,
        mode: Mode,
        conversation: Uuid,
        transcript: Option<&Path>,
    ) -> Option<Vec<String>> {
        let template = match mode {
            Mode::Start => Some(&self.start),
            Mode::Resume => self.resume.as_ref(),
        }?;
        let id = conversation.to_string();
        let file = transcript.map(|p| p.to_string_lossy().into_owned());
        let file_id = transcript.and_then(crate::agent::transcript_id);
        template
            .iter()
            .map(|a| {
                let a = a.replace(PLACEHOLDER, &id);
                let a = match (a.contains(TRANSCRIPT_ID), file_id) {
                    (false, _) => a,
                    (true, Some(t)) => a.replace(TRANSCRIPT_ID, &t.to_string()),
                    (true, None) => return None,
                };
                match (&file, a.contains(TRANSCRIPT)) {
                    (_, false) => Some(a),
                    (Some(f), true) => Some(a.replace(TRANSCRIPT, f)),
                    (None, true) => None,
                }
            })
            .collect()
    }
}

/// Where Claude Code keeps the transcript of `conversation` for an agent started in `workdir`
/// with `env` (its `CLAUDE_CONFIG_DIR`, else `HOME`/.claude); None without either.
pub fn claude_transcript(
    env: &super::AgentEnv,
    workdir: &Path,
    conversation: Uuid,
) -> Option<PathBuf> {
    let config = match env.get("CLAUDE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env.get("HOME").filter(|h| !h.is_empty())?).join(".claude"),
    };
    let dir = std::fs::canonicalize(workdir).unwrap_or_else(|_| workdir.to_path_buf());
    Some(
        config
            .join("projects")
            .join(project_slug(&dir.to_string_lossy()))
            .join(format!("{conversation}.jsonl")),
    )
}

/// Claude Code's name for a project directory: every character but `[A-Za-z0-9]` becomes `-`;
/// past 200 characters, the first 200 and a hash of the whole (as Claude Code 2.1.197 does).
pub fn project_slug(path: &str) -> String {
    const MAX: usize = 200;
    let slug: String = path
        .chars()
        .flat_map(|c| {
            // Counted in UTF-16 units, as JavaScript's `replace` sees them.
            let dash = if c.is_ascii_alphanumeric() { c } else { '-' };
            std::iter::repeat_n(dash, c.len_utf16())
        })
        .collect();
    if slug.len() <= MAX {
        return slug;
    }
    let mut h: i32 = 0;
    for unit in path.encode_utf16() {
        h = h
            .wrapping_shl(5)
            .wrapping_sub(h)
            .wrapping_add(i32::from(unit));
    }
    format!("{}-{}", &slug[..MAX], radix36(h.unsigned_abs()))
}

fn radix36(mut n: u32) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
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
        let l = Launch::for_kind(AgentKind::Demo);
        assert_eq!(l.mode(true, None), Mode::Resume);
        assert_eq!(l.mode(false, None), Mode::Start);
        assert_eq!(
            l.args(Mode::Resume, id, None).unwrap(),
            ["--resume", "00000000-0000-0000-0000-000000000000"]
        );
        // Claude resumes by its transcript file, and only when the file is here.
        let claude = Launch::for_kind(AgentKind::Claude);
        let here = std::env::current_exe().unwrap();
        assert_eq!(claude.mode(true, Some(&here)), Mode::Resume);
        assert_eq!(
            claude.mode(true, Some(Path::new("/nonexistent/x.jsonl"))),
            Mode::Start
        );
        assert_eq!(claude.mode(true, None), Mode::Start);
        assert_eq!(
            claude
                .args(Mode::Resume, id, Some(Path::new("/h/t.jsonl")))
                .unwrap(),
            ["--resume", "/h/t.jsonl"]
        );
        assert_eq!(claude.args(Mode::Resume, id, None), None);
        let other = Launch::for_kind(AgentKind::Other);
        assert!(!other.can_resume());
        assert_eq!(other.mode(true, None), Mode::Start);
        assert_eq!(
            other.args(Mode::Start, id, None).unwrap(),
            Vec::<String>::new()
        );
        let custom = Launch::with_overrides(
            AgentKind::Other,
            Some("--new 'conv={conversation}'"),
            Some("--continue {conversation}"),
        )
        .unwrap();
        assert_eq!(
            custom.args(Mode::Start, id, None).unwrap(),
            ["--new", "conv=00000000-0000-0000-0000-000000000000"]
        );
        assert!(custom.can_resume());
        let none = Launch::with_overrides(AgentKind::Claude, None, Some("-")).unwrap();
        assert!(!none.can_resume());
    }

    #[test]
    fn claude_s_project_names_are_reproduced() {
        // Seen on disk: /tmp/paliadin-sys-38755c91b511/claude/work →
        assert_eq!(
            project_slug("/tmp/paliadin-sys-38755c91b511/claude/work"),
            "-tmp-paliadin-sys-38755c91b511-claude-work"
        );
        assert_eq!(project_slug("/home/a_b/x.y"), "-home-a-b-x-y");
        let long = format!("/{}", "d".repeat(250));
        let slug = project_slug(&long);
        assert!(
            slug.starts_with(&format!("-{}-", "d".repeat(199))),
            "{slug}"
        );
        assert!(slug.len() > 201 && slug[201..].bytes().all(|b| b.is_ascii_alphanumeric()));
        let mut env = super::super::AgentEnv::default();
        assert_eq!(claude_transcript(&env, Path::new("/w"), id_nil()), None);
        assert!(env.set("HOME", "/home/p"));
        assert_eq!(
            claude_transcript(&env, Path::new("/nonexistent-w"), id_nil()).unwrap(),
            Path::new(
                "/home/p/.claude/projects/-nonexistent-w/00000000-0000-0000-0000-000000000000.jsonl"
            )
        );
        assert!(env.set("CLAUDE_CONFIG_DIR", "/cfg"));
        assert!(
            claude_transcript(&env, Path::new("/nonexistent-w"), id_nil())
                .unwrap()
                .starts_with("/cfg/projects")
        );
    }

    fn id_nil() -> Uuid {
        Uuid::nil()
    }
}

/// The settings that choose an agent's [`Launch`] (the worker's and the host agent's flags).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct LaunchSettings {
    /// Which agent the command runs: `claude`, `codex`, `demo` or `other` (default: from the
    /// program's name). Decides how a conversation starts and resumes, which first-run screens
    /// and hooks it has (docs/agents.md).
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
        let agent = Agent::detect(self.agent.as_deref(), argv0)?;
        Launch::with_agent_overrides(
            agent,
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

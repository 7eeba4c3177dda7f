//! `TmuxConfig`: every knob of the tmux driver, with defaults that work on one machine.

use super::agent_env::AgentEnv;
use super::launch::Launch;
use crate::agent::Agent;
use std::path::PathBuf;
use std::time::Duration;

/// The operator's agent command could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AgentCmdError {
    #[error("the agent command is empty")]
    Empty,
    #[error("the agent command has unbalanced quotes or a trailing backslash")]
    Unparsable,
}

/// Splits `PALIADIN_AGENT_CMD` into argv with shell quoting rules (no expansion, no shell is
/// ever run): `claude --model "x y"` → `["claude", "--model", "x y"]`.
pub fn split_agent_cmd(cmd: &str) -> Result<Vec<String>, AgentCmdError> {
    let argv = shell_words::split(cmd).map_err(|_| AgentCmdError::Unparsable)?;
    if argv.is_empty() {
        return Err(AgentCmdError::Empty);
    }
    Ok(argv)
}

/// How this host runs agents in tmux.
#[derive(Debug, Clone)]
pub struct TmuxConfig {
    /// The tmux binary (`tmux` on `PATH`); if it cannot run, turns fail `tmux_unavailable`.
    pub tmux_bin: PathBuf,
    /// `PALIADIN_TMUX_SOCKET`: Paliadin's own tmux server ([`super::socket`]); `None` is its
    /// default socket, never a person's server.
    pub socket: Option<String>,
    /// Commands go to one control-mode client per server (`tmux -C`, the default; see
    /// `PALIADIN_TMUX_CONTROL`); `false` runs one `tmux` process per command, as the fallback
    /// does when no control client can start.
    pub control: bool,
    /// The agent command as separate argv, started directly in each new session (no shell).
    pub agent_argv: Vec<String>,
    /// How the agent starts and resumes a conversation ([`Launch`]; from the program's name
    /// by default, `PALIADIN_AGENT*` in the binaries).
    pub launch: Launch,
    /// What a new agent session's environment is made of ([`AgentEnv`]): this process's
    /// documented set by default; the binaries add `PALIADIN_AGENT_ENV`.
    pub agent_env: AgentEnv,
    /// The working directory of new sessions (`new-session -c`).
    pub workdir: PathBuf,
    /// Where agents write per-turn files; handed to them as `PALIADIN_SPOOL_DIR`.
    pub spool_dir: PathBuf,
    /// Window size of new sessions: detached sessions default to 80x24, which makes agent UIs wrap.
    pub width: u16,
    pub height: u16,
    /// Pause between the paste and the separate Enter. Zero: measured against Claude Code
    /// 2.1.197 (docs/claude-code.md, "Delivery timing"), an Enter sent right after the paste
    /// was taken in 90 of 90 trials (one line, five lines, 20 KB); a missed Enter would be
    /// retried after `ack_timeout`.
    pub settle: Duration,
    /// How long to wait for the agent's `.ack` after each Enter before retrying it.
    pub ack_timeout: Duration,
    /// How many times Enter is sent at most.
    pub enter_attempts: u32,
    /// How long a new turn waits for the agent to finish earlier work (its busy marker,
    /// `tmux/busy.rs`) before interrupting it with Escape.
    pub busy_wait: Duration,
    /// After the agent's busy marker goes, how long its screen must stay unchanged before the
    /// paste: Claude Code 2.1.197 queues text that arrives while it finishes drawing its
    /// answer, and then leaves it in its input line (docs/claude-code.md).
    pub idle_quiet: Duration,
    /// How often a running turn checks that its session and pane are alive.
    pub health_interval: Duration,
    /// How long a delivered turn may go without news from the agent before the worker looks
    /// at its screen for a question no hook reported (`tmux/dialog.rs`).
    pub dialog_quiet: Duration,
    /// How long a successful health check is trusted before the next turn checks again.
    pub health_ttl: Duration,
    /// How long a new session may take to show a stable screen before the first paste.
    pub ready_timeout: Duration,
    /// How long the screen of a new session must stay unchanged to count as ready.
    pub ready_quiet: Duration,
    /// How long finished turns' files stay in `<spool>/done/` (zero: delete at once).
    pub done_retention: Duration,
    /// Largest agent file of a turn (`PALIADIN_MAX_REPLY_BYTES`): past it the turn fails
    /// `invalid_reply`.
    pub max_reply_bytes: u64,
    /// Most live agents on this tmux server (`PALIADIN_MAX_LIVE_AGENTS`, [`super::capacity`]);
    /// None: no limit.
    pub max_live_agents: Option<usize>,
    /// Most live agents of one owner on this tmux server (`PALIADIN_MAX_LIVE_AGENTS_PER_USER`,
    /// [`super::capacity`]); None: no limit of its own.
    pub max_live_agents_per_user: Option<usize>,
}

impl TmuxConfig {
    /// Defaults for everything but the agent command.
    pub fn new(agent_argv: Vec<String>) -> Self {
        TmuxConfig {
            tmux_bin: PathBuf::from("tmux"),
            socket: None,
            control: true,
            launch: Launch::for_agent(
                Agent::detect(None, agent_argv.first().map(String::as_str)).unwrap_or(Agent::Other),
            ),
            agent_argv,
            agent_env: AgentEnv::inherited(),
            workdir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            spool_dir: default_spool_dir(),
            width: 220,
            height: 50,
            settle: Duration::ZERO,
            ack_timeout: Duration::from_secs(2),
            enter_attempts: 3,
            busy_wait: Duration::from_secs(30),
            idle_quiet: Duration::from_millis(100),
            health_interval: Duration::from_secs(1),
            dialog_quiet: Duration::from_secs(3),
            health_ttl: Duration::from_secs(10),
            ready_timeout: Duration::from_secs(15),
            ready_quiet: Duration::from_millis(300),
            done_retention: Duration::from_secs(3600),
            max_reply_bytes: crate::spool::DEFAULT_MAX_REPLY_BYTES,
            max_live_agents: None,
            max_live_agents_per_user: Some(3),
        }
    }

    /// Where the agent keeps the transcript of `conversation` on this host, when it is an agent
    /// whose transcript Paliadin can name ([`Agent::transcript`]: Claude Code's project file,
    /// Codex's rollout as its prompt hook recorded it).
    pub fn transcript(&self, conversation: uuid::Uuid) -> Option<PathBuf> {
        self.launch.agent.transcript(
            &self.agent_env,
            &self.workdir,
            &self.spool_dir,
            conversation,
        )
    }

    /// The transcript usage is read from (`crate::usage::read_when_written`: Claude Code's
    /// conversation file, Codex's rollout): None for every other agent.
    pub fn usage_transcript(&self, conversation: uuid::Uuid) -> Option<PathBuf> {
        match self.launch.agent {
            Agent::Claude | Agent::Codex => self.transcript(conversation),
            Agent::Demo | Agent::Other => None,
        }
    }

    /// Same, from an operator command line such as `PALIADIN_AGENT_CMD`.
    pub fn from_agent_cmd(cmd: &str) -> Result<Self, AgentCmdError> {
        Ok(TmuxConfig::new(split_agent_cmd(cmd)?))
    }
}

/// `$XDG_RUNTIME_DIR/paliadin/spool`, else `/tmp/paliadin-<uid>/spool`.
pub fn default_spool_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("paliadin").join("spool"),
        None => PathBuf::from(format!("/tmp/paliadin-{}", current_uid())).join("spool"),
    }
}

/// The uid of this process, read without `unsafe` from the owner of `/proc/self`.
pub(crate) fn current_uid() -> String {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self") {
        Ok(m) => m.uid().to_string(),
        Err(_) => std::env::var("USER").unwrap_or_else(|_| "user".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell_without_running_one() {
        assert_eq!(
            split_agent_cmd("agent --x 'a b;' \"$(c)\"").unwrap(),
            vec!["agent", "--x", "a b;", "$(c)"]
        );
        assert_eq!(split_agent_cmd("  "), Err(AgentCmdError::Empty));
        assert_eq!(split_agent_cmd("a 'b"), Err(AgentCmdError::Unparsable));
    }
}

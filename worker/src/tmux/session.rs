//! Session lifecycle on one tmux server: create, check, wait until ready, kill.
//!
//! Sessions are always targeted exactly: `=name` for session commands and `=name:` for the
//! session's active pane (verified on tmux 3.3a; a bare `name` would prefix-match `name-2`).
//! Successful health checks are cached per session for `health_ttl`; any failure and every
//! reset evicts the entry, so the next turn checks again.

use super::launch::Mode;
use super::{Tmux, TmuxConfig, TmuxError};
use crate::contract::Conversation;
use paliadin_shared::SessionName;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::time::MissedTickBehavior;
use uuid::Uuid;

/// The tmux user option that names the conversation a session's agent holds.
pub const CONVERSATION_OPTION: &str = "@paliadin-conversation";
/// The tmux user option that holds when the agent was last used (Unix seconds, with
/// milliseconds: the least recently used of agents used within one second is told apart):
/// set when it starts, when a turn is pasted and when one ends; read by [`Sessions::idle`] and
/// [`super::capacity`]. (Releases before the live-agent limit wrote whole seconds and skip a
/// value with a fraction: they never stop such an agent as idle.)
pub const USED_OPTION: &str = "@paliadin-used";

/// What a health check saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The pane's process runs; `command` is tmux's `#{pane_current_command}` (for logs), and
    /// `conversation` the one its agent was started for (None: a session from before
    /// conversations, or one whose option was never set).
    Alive {
        command: String,
        conversation: Option<Uuid>,
    },
    /// The pane's process exited and the pane was kept (`remain-on-exit`).
    Dead,
    /// No such session (or no server at all).
    Missing,
}

/// How `ensure` found the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// Trusted from the health cache without a tmux call.
    Cached,
    /// Checked just now and alive.
    Checked,
    /// Started just now (the agent may still be starting), for its conversation in this mode.
    Created(Mode),
}

impl Ensured {
    /// Started just now.
    pub fn created(self) -> bool {
        matches!(self, Ensured::Created(_))
    }
}

/// Most looks at a dead agent's screen for its last words (a second at most), and the pause
/// between two.
const WORDS_LOOKS: usize = 20;
const WORDS_SETTLE: Duration = Duration::from_millis(50);

/// Session operations plus the per-session health cache.
#[derive(Debug)]
pub struct Sessions {
    tmux: Tmux,
    /// When each session was last seen alive, and the conversation its agent holds.
    healthy: Mutex<HashMap<SessionName, (Instant, Option<Uuid>)>>,
    ttl: Duration,
}

impl Sessions {
    pub fn new(tmux: Tmux, ttl: Duration) -> Self {
        Sessions {
            tmux,
            healthy: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// The tmux handle the sessions live on.
    pub fn tmux(&self) -> &Tmux {
        &self.tmux
    }

    pub fn evict(&self, s: &SessionName) {
        self.healthy.lock().expect("cache lock").remove(s);
    }

    fn mark_alive(&self, s: &SessionName, conversation: Option<Uuid>) {
        let mut map = self.healthy.lock().expect("cache lock");
        map.insert(s.clone(), (Instant::now(), conversation));
    }

    /// Seen alive within the TTL, holding `conversation`.
    pub(crate) fn cached(&self, s: &SessionName, conversation: Uuid) -> bool {
        let map = self.healthy.lock().expect("cache lock");
        map.get(s)
            .is_some_and(|(t, c)| t.elapsed() < self.ttl && *c == Some(conversation))
    }

    /// One `display` call. tmux 3.3a prints empty fields and exits 0 for a missing session, so
    /// the reply must name the session to count as found (newer versions exit 1 instead).
    pub async fn health(&self, s: &SessionName) -> Result<Health, TmuxError> {
        let fmt =
            "#{session_name}\t#{pane_dead}\t#{@paliadin-conversation}\t#{pane_current_command}";
        let out = match self
            .tmux
            .run(&["display-message", "-p", "-t", &s.pane_target(), fmt])
            .await
        {
            Err(e) if e.is_missing() => return Ok(Health::Missing),
            other => other?,
        };
        let mut fields = out.trim_end_matches('\n').splitn(4, '\t');
        let health = match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (Some(name), ..) if name != s.as_str() => Health::Missing,
            (_, Some("1"), ..) => Health::Dead,
            (_, _, conv, cmd) => Health::Alive {
                command: cmd.unwrap_or("").to_owned(),
                conversation: conv.and_then(|c| Uuid::parse_str(c).ok()),
            },
        };
        match &health {
            Health::Alive { conversation, .. } => self.mark_alive(s, *conversation),
            _ => self.evict(s),
        }
        Ok(health)
    }

    /// Makes sure the session runs an agent holding `conv`: trusts the cache, else checks,
    /// else (re)creates it — an agent of another conversation (or of none) is stopped and one
    /// for `conv` started in its place, resuming it when it `continues`.
    ///
    /// An agent of another conversation is stopped only once it is idle (its busy marker in
    /// `spool` gone, at most `busy_wait`): stopped in the middle of its turn's end, Claude
    /// Code's transcript lacks that turn's last answer and it resumes it as interrupted.
    pub async fn ensure(
        &self,
        s: &SessionName,
        cfg: &TmuxConfig,
        conv: Conversation,
        spool: &std::path::Path,
    ) -> Result<Ensured, TmuxError> {
        if self.cached(s, conv.id) {
            return Ok(Ensured::Cached);
        }
        match self.health(s).await? {
            Health::Alive { conversation, .. } if conversation == Some(conv.id) => {
                return Ok(Ensured::Checked);
            }
            Health::Alive { conversation, .. } => {
                tracing::info!(session = %s, from = ?conversation, to = %conv.id,
                    "the agent holds another conversation: starting one for this turn's");
                if super::busy::path(spool, s).exists() {
                    let _ = super::busy::wait_idle(spool, s, cfg.busy_wait).await;
                }
                self.kill(s).await?;
            }
            Health::Dead => self.kill(s).await?,
            Health::Missing => {}
        }
        let transcript = cfg.transcript(conv.id);
        let mode = cfg.launch.mode(conv.continues, transcript.as_deref());
        self.create(s, cfg, conv.id, mode).await?;
        Ok(Ensured::Created(mode))
    }

    /// `new-session -d` with the agent argv passed as separate words, through `env` (tmux runs
    /// a *single* word through `sh -c`; `env` keeps it shell-free and removes what the server
    /// would hand down that the agent must not have). The agent's environment
    /// ([`super::AgentEnv`]) goes as `-e`, through [`Tmux::run_unlisted`]: never on a command
    /// line.
    pub async fn create(
        &self,
        s: &SessionName,
        cfg: &TmuxConfig,
        conversation: Uuid,
        mode: Mode,
    ) -> Result<(), TmuxError> {
        let transcript = cfg.transcript(conversation);
        let launch_args = cfg
            .launch
            .args(mode, conversation, transcript.as_deref())
            .unwrap_or_default();
        let (w, h) = (cfg.width.to_string(), cfg.height.to_string());
        let spool = format!("PALIADIN_SPOOL_DIR={}", path_str(&cfg.spool_dir));
        let session = format!("PALIADIN_SESSION={s}");
        // Which Paliadin conversation the agent holds: Codex's prompt hook links its own
        // session to it (`crate::agent::codex_rollout`).
        let conversation_env = format!("PALIADIN_CONVERSATION={conversation}");
        let workdir = path_str(&cfg.workdir);
        // What an earlier process (or tmux itself) left in the server's environment.
        let server_env = match self.tmux.run(&["show-environment", "-g"]).await {
            Ok(out) => out,
            Err(e) if e.is_missing() => String::new(),
            Err(e) => return Err(e),
        };
        let removed = cfg
            .agent_env
            .to_remove(super::agent_env::names_of(&server_env));
        let env_args = cfg.agent_env.tmux_args();
        let mut args = vec![
            "new-session",
            "-d",
            "-s",
            s.as_str(),
            "-x",
            &w,
            "-y",
            &h,
            "-c",
            &workdir,
        ];
        args.extend(env_args.iter().map(String::as_str));
        args.extend(["-e", &spool, "-e", &session, "-e", &conversation_env]);
        args.extend(["--", "env"]);
        for name in &removed {
            args.extend(["-u", name.as_str()]);
        }
        args.push("--");
        args.extend(cfg.agent_argv.iter().map(String::as_str));
        args.extend(launch_args.iter().map(String::as_str));
        match self.tmux.run_unlisted(&args).await {
            // Another worker created it a moment ago: that one is as good as ours.
            Err(TmuxError::Failed { stderr, .. }) if stderr.contains("duplicate session") => {}
            other => {
                other?;
            }
        }
        // Which conversation this agent holds (read back by `health`). A session that went
        // already (its agent exited at once): the readiness check says so.
        let id = conversation.to_string();
        self.set_option(s, false, CONVERSATION_OPTION, &id).await?;
        self.touch(s).await;
        tracing::info!(session = %s, %conversation, mode = mode.as_str(), "agent started");
        // A never-attached pane may not have seen a SIGWINCH; setting the size sends one.
        let target = s.pane_target();
        let _ = self
            .tmux
            .run(&["resize-window", "-t", &target, "-x", &w, "-y", &h])
            .await;
        self.evict(s);
        Ok(())
    }

    /// Whether the session's pane stays when its agent exits (`remain-on-exit`, on for every
    /// new session by the server's configuration). Best effort.
    pub async fn keep_dead_panes(&self, s: &SessionName, keep: bool) {
        let value = if keep { "on" } else { "off" };
        if let Err(e) = self.set_option(s, true, "remain-on-exit", value).await {
            tracing::warn!(error = %e, session = %s, "cannot set remain-on-exit");
        }
    }

    /// Marks the session's agent as used now ([`USED_OPTION`]). Best effort.
    pub async fn touch(&self, s: &SessionName) {
        let now = format!("{:.3}", unix_now_ms() as f64 / 1000.0);
        if let Err(e) = self.set_option(s, false, USED_OPTION, &now).await {
            tracing::debug!(error = %e, session = %s, "cannot mark the agent as used");
        }
    }

    /// Marks a turn as running on the session's agent for the next
    /// [`super::capacity::TURN_MARK`] (renewed while it runs): an agent at work is never
    /// stopped to make room, nor for being idle. Best effort.
    pub async fn mark_turn(&self, s: &SessionName) {
        let until = (unix_now() + super::capacity::TURN_MARK.as_secs()).to_string();
        if let Err(e) = self
            .set_option(s, false, super::capacity::TURN_OPTION, &until)
            .await
        {
            tracing::debug!(error = %e, session = %s, "cannot mark the agent at work");
        }
    }

    /// The turn on the session's agent has ended: used now, and no longer at work.
    pub async fn end_turn(&self, s: &SessionName) {
        self.touch(s).await;
        if let Err(e) = self
            .set_option(s, false, super::capacity::TURN_OPTION, "0")
            .await
        {
            tracing::debug!(error = %e, session = %s, "cannot mark the agent idle");
        }
    }

    /// `set-option [-w] -t =name: <option> <value>` (3.3a takes no `=name` for set-option: "no
    /// such session"); a session that is gone has nothing to set, and that is no error.
    async fn set_option(
        &self,
        s: &SessionName,
        window: bool,
        option: &str,
        value: &str,
    ) -> Result<(), TmuxError> {
        let pane = s.pane_target();
        let mut args = vec!["set-option"];
        if window {
            args.push("-w");
        }
        args.extend(["-t", &pane, option, value]);
        match self.tmux.run(&args).await {
            Err(e) if e.is_missing() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// The sessions whose agent has not been used for `idle` (by [`USED_OPTION`]) and runs no
    /// turn ([`super::capacity::TURN_OPTION`]), and how many agents the server holds; sessions
    /// without the mark (the control session, sessions from before idle stops) are never idle.
    pub async fn idle(&self, idle: Duration) -> Result<(Vec<SessionName>, usize), TmuxError> {
        let agents = super::capacity::list(&self.tmux).await?;
        let (now, now_ms) = (unix_now(), unix_now_ms());
        let live = agents.iter().filter(|a| !a.dead).count();
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        let idle = agents
            .into_iter()
            .filter(|a| a.between_turns(now) && now_ms.saturating_sub(a.used_ms) >= idle_ms)
            .map(|a| a.session)
            .collect();
        Ok((idle, live))
    }

    /// The last lines of a pane whose agent exited (kept by `remain-on-exit`, set in the
    /// server's configuration, [`super::socket`]): at most [`EXIT_LINES`] lines and
    /// [`EXIT_CHARS`] characters, without control characters.
    pub async fn last_words(&self, s: &SessionName) -> String {
        // With its history: resizing the new window scrolls a short screen up into it.
        let target = s.pane_target();
        let args = ["capture-pane", "-p", "-J", "-S", "-200", "-t", &target];
        // tmux may mark the pane dead before it has read the agent's last output from the
        // terminal (seen under load: "env:" without the rest of its line, or only tmux's own
        // "Pane is dead" line): read until two looks agree on a screen with the agent's words
        // on it, a bounded number of looks (a failed start only, never a turn's path).
        let mut last: Option<String> = None;
        for _ in 0..WORDS_LOOKS {
            let Ok(screen) = self.tmux.run(&args).await else {
                break;
            };
            if last.as_deref() == Some(screen.as_str()) && has_agent_words(&screen) {
                break;
            }
            last = Some(screen);
            tokio::time::sleep(WORDS_SETTLE).await;
        }
        last.map(|screen| last_lines(&screen)).unwrap_or_default()
    }

    /// `kill-session -t =name`; a missing session or server is fine.
    pub async fn kill(&self, s: &SessionName) -> Result<(), TmuxError> {
        self.evict(s);
        match self
            .tmux
            .run(&["kill-session", "-t", &s.exact_target()])
            .await
        {
            Err(e) if e.is_missing() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Waits until the screen is non-blank, unchanged for `quiet` and not saying that the agent
    /// is working ([`super::dialog::working`]): the agent drew its prompt and takes the next one. At
    /// most `timeout`; past that the paste goes ahead anyway. An agent that has exited (its pane
    /// kept dead, looked at every 500 ms) ends the wait with a `NotFound` error.
    pub async fn wait_ready(
        &self,
        s: &SessionName,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<(), TmuxError> {
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let (mut last, mut since) = (String::new(), Instant::now());
        let mut ticks = 0u32;
        while started.elapsed() < timeout {
            tick.tick().await;
            ticks += 1;
            let screen = super::deliver::capture(&self.tmux, &s.pane_target()).await?;
            // An agent that exited leaves its pane (`remain-on-exit`): no need to wait it out.
            if ticks.is_multiple_of(10) && self.health(s).await? == Health::Dead {
                return Err(TmuxError::NotFound(format!("the agent in {s} has exited")));
            }
            if screen != last {
                (last, since) = (screen, Instant::now());
            } else if !last.trim().is_empty()
                && since.elapsed() >= quiet
                && !super::dialog::working(&last)
            {
                tracing::debug!(session = %s, waited_ms = started.elapsed().as_millis() as u64, "agent ready");
                return Ok(());
            }
        }
        tracing::warn!(session = %s, "agent screen not stable after {timeout:?}; pasting anyway");
        Ok(())
    }
}

pub(crate) fn unix_now() -> u64 {
    unix_now_ms() / 1000
}

pub(crate) fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How much of a dead agent's screen a turn's error quotes.
pub const EXIT_LINES: usize = 8;
pub const EXIT_CHARS: usize = 600;

/// The last non-blank lines of `screen`, bounded, control characters removed.
/// Whether a dead pane's screen holds anything but tmux's own "Pane is dead (…)" line.
fn has_agent_words(screen: &str) -> bool {
    screen
        .lines()
        .any(|l| !l.trim().is_empty() && !l.starts_with("Pane is dead"))
}

pub fn last_lines(screen: &str) -> String {
    let lines: Vec<String> = screen
        .lines()
        .map(|l| {
            l.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .filter(|l| !l.trim().is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(EXIT_LINES)..].join("\n");
    let n = tail.chars().count();
    if n <= EXIT_CHARS {
        tail
    } else {
        let cut: String = tail.chars().skip(n - EXIT_CHARS).collect();
        format!("…{cut}")
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_agent_s_last_words_are_bounded_and_clean() {
        let screen = "\n\nfirst\nenv: ‘claude’: No such file or directory\x1b[0m\n\n\n";
        assert_eq!(
            last_lines(screen),
            "first\nenv: ‘claude’: No such file or directory [0m"
        );
        let many: String = (0..50).map(|i| format!("line {i}\n")).collect();
        let out = last_lines(&many);
        assert_eq!(out.lines().count(), EXIT_LINES);
        assert!(out.ends_with("line 49"), "{out}");
        let long = "x".repeat(5000);
        assert!(last_lines(&long).chars().count() <= EXIT_CHARS + 1);
    }
}

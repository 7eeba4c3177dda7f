//! Agent lifecycle on one tmux server: create, check, wait until ready, kill.
//!
//! Each conversation's agent is a window of its owner's session (`<session>:c-<hex>`,
//! [`SessionName::for_conversation`]); the session is made with its first window and goes with
//! its last. Agents started before windows (one per session) are still found and driven
//! ([`Sessions::resolve`]) until they stop.
//!
//! Targets are always exact: `=name` for session commands, `=name:=window` for a window's pane
//! and `=name:` for the session's active pane (verified on tmux 3.3a; a bare `name` would
//! prefix-match `name-2`).
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
        let fmt = "#{session_name}\t#{window_name}\t#{pane_dead}\t#{@paliadin-conversation}\t\
                   #{pane_current_command}";
        let out = match self
            .tmux
            .run(&["display-message", "-p", "-t", &s.pane_target(), fmt])
            .await
        {
            Err(e) if e.is_missing() => return Ok(Health::Missing),
            other => other?,
        };
        let mut fields = out.trim_end_matches('\n').splitn(5, '\t');
        let (name, window) = (fields.next(), fields.next());
        let named =
            name == Some(s.session().as_str()) && s.window().is_none_or(|w| window == Some(w));
        let health = match (fields.next(), fields.next(), fields.next()) {
            // tmux 3.3a answers for the current window when the one asked for is missing.
            _ if !named => Health::Missing,
            (Some("1"), ..) => Health::Dead,
            (_, conv, cmd) => Health::Alive {
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

    /// Where the agent of `s` (a conversation's window) is: `s` itself, or, when that window
    /// does not exist, the owner's session when its agent was started before windows and
    /// holds the same conversation (it is driven where it runs, and stops as any agent does).
    /// A `takeover` (the turn may be in that agent already) also takes an agent of a release
    /// from before conversations, which names none.
    pub async fn resolve(&self, s: &SessionName, takeover: bool) -> Result<SessionName, TmuxError> {
        let Some(conv) = s.conversation() else {
            return Ok(s.clone());
        };
        if self.cached(s, conv) {
            return Ok(s.clone());
        }
        if self.health(s).await? != Health::Missing {
            return Ok(s.clone());
        }
        let base = s.session();
        match self.health(&base).await? {
            Health::Alive { conversation, .. }
                if (conversation == Some(conv) || (takeover && conversation.is_none()))
                    && !self.has_windows(&base).await? =>
            {
                tracing::info!(session = %base, %conv, "driving the agent started before windows");
                Ok(base)
            }
            _ => {
                self.evict(&base);
                Ok(s.clone())
            }
        }
    }

    /// Whether the session holds any conversation's window.
    async fn has_windows(&self, base: &SessionName) -> Result<bool, TmuxError> {
        let out = match self
            .tmux
            .run(&[
                "list-windows",
                "-t",
                &base.exact_target(),
                "-F",
                "#{window_name}",
            ])
            .await
        {
            Err(e) if e.is_missing() => return Ok(false),
            other => other?,
        };
        Ok(out
            .lines()
            .any(|w| w.starts_with(paliadin_shared::domain::WINDOW_PREFIX)))
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
        let base = s.session();
        let in_session = base.exact_target() + ":";
        // A conversation's window goes into its owner's session, which is made with it when
        // there is none yet (or none any more: a session goes with its last window).
        let (head, tail): (Vec<&str>, Vec<&str>) = match s.window() {
            Some(window) => (
                vec!["new-session", "-d", "-s", base.as_str(), "-n", window],
                vec!["new-window", "-d", "-t", &in_session, "-n", window],
            ),
            None => (vec!["new-session", "-d", "-s", s.as_str()], Vec::new()),
        };
        let mut rest = vec!["-c", &workdir];
        rest.extend(env_args.iter().map(String::as_str));
        rest.extend(["-e", &spool, "-e", &session, "-e", &conversation_env]);
        rest.extend(["--", "env"]);
        for name in &removed {
            rest.extend(["-u", name.as_str()]);
        }
        rest.push("--");
        rest.extend(cfg.agent_argv.iter().map(String::as_str));
        rest.extend(launch_args.iter().map(String::as_str));
        let size = ["-x", w.as_str(), "-y", h.as_str()];
        let exists = s.window().is_some() && self.session_exists(&base).await?;
        let first = if exists { &tail } else { &head };
        let with = |cmd: &[&str], sized: bool| -> Vec<String> {
            let mut a: Vec<String> = cmd.iter().map(|x| (*x).to_owned()).collect();
            if sized {
                a.extend(size.iter().map(|x| (*x).to_owned()));
            }
            a.extend(rest.iter().map(|x| (*x).to_owned()));
            a
        };
        let args = with(first, !exists);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match self.tmux.run_unlisted(&args).await {
            // Another worker made the session a moment ago: the window goes into it.
            Err(TmuxError::Failed { stderr, .. })
                if stderr.contains("duplicate session") && s.window().is_some() =>
            {
                let args = with(&tail, false);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                self.tmux.run_unlisted(&args).await?;
            }
            // Another worker created it a moment ago: that one is as good as ours.
            Err(TmuxError::Failed { stderr, .. }) if stderr.contains("duplicate session") => {}
            other => {
                other?;
            }
        }
        // Which conversation this agent holds (read back by `health`). A session that went
        // already (its agent exited at once): the readiness check says so.
        let id = conversation.to_string();
        self.set_option(s, CONVERSATION_OPTION, &id).await?;
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

    /// Whether the owner's session exists (`has-session -t =name`).
    async fn session_exists(&self, base: &SessionName) -> Result<bool, TmuxError> {
        match self
            .tmux
            .run(&["has-session", "-t", &base.exact_target()])
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_missing() => Ok(false),
            Err(TmuxError::Failed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether the session's pane stays when its agent exits (`remain-on-exit`, on for every
    /// new session by the server's configuration). Best effort.
    pub async fn keep_dead_panes(&self, s: &SessionName, keep: bool) {
        let value = if keep { "on" } else { "off" };
        if let Err(e) = self.set_option(s, "remain-on-exit", value).await {
            tracing::warn!(error = %e, session = %s, "cannot set remain-on-exit");
        }
    }

    /// Marks the session's agent as used now ([`USED_OPTION`]). Best effort.
    pub async fn touch(&self, s: &SessionName) {
        let now = format!("{:.3}", unix_now_ms() as f64 / 1000.0);
        if let Err(e) = self.set_option(s, USED_OPTION, &now).await {
            tracing::debug!(error = %e, session = %s, "cannot mark the agent as used");
        }
    }

    /// Marks a turn as running on the session's agent for the next
    /// [`super::capacity::TURN_MARK`] (renewed while it runs): an agent at work is never
    /// stopped to make room, nor for being idle. Best effort.
    pub async fn mark_turn(&self, s: &SessionName) {
        let until = (unix_now() + super::capacity::TURN_MARK.as_secs()).to_string();
        if let Err(e) = self
            .set_option(s, super::capacity::TURN_OPTION, &until)
            .await
        {
            tracing::debug!(error = %e, session = %s, "cannot mark the agent at work");
        }
    }

    /// The turn on the session's agent has ended: used now, and no longer at work.
    pub async fn end_turn(&self, s: &SessionName) {
        self.touch(s).await;
        if let Err(e) = self.set_option(s, super::capacity::TURN_OPTION, "0").await {
            tracing::debug!(error = %e, session = %s, "cannot mark the agent idle");
        }
    }

    /// `set-option -w -t <pane target> <option> <value>`: every mark of an agent is its
    /// window's (the session's windows are several agents; formats read a window's option
    /// before its session's, so an agent started before windows reads the same). 3.3a takes no
    /// `=name` for set-option ("no such session"). A session or window that is gone has
    /// nothing to set, and that is no error.
    async fn set_option(
        &self,
        s: &SessionName,
        option: &str,
        value: &str,
    ) -> Result<(), TmuxError> {
        let pane = s.pane_target();
        let args = ["set-option", "-w", "-t", &pane, option, value];
        match self.tmux.run(&args).await {
            Err(e) if e.is_missing() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// The sessions whose agent has not been used for `idle` (by [`USED_OPTION`]) and runs no
    /// turn ([`super::capacity::TURN_OPTION`]), and how many agents the server holds; sessions
    /// without the mark (the control session, sessions from before idle stops) are never idle.
    pub async fn idle(
        &self,
        idle: Duration,
    ) -> Result<(Vec<super::capacity::Agent>, usize), TmuxError> {
        let agents = super::capacity::list(&self.tmux).await?;
        let (now, now_ms) = (unix_now(), unix_now_ms());
        let live = agents.iter().filter(|a| !a.dead).count();
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        let idle = agents
            .into_iter()
            .filter(|a| a.between_turns(now) && now_ms.saturating_sub(a.used_ms) >= idle_ms)
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

    /// Stops the agent: `kill-window -t =name:=window` for a conversation's window (the
    /// session goes with its last window), `kill-session -t =name` for a whole session (its
    /// every agent). A missing session, window or server is fine.
    pub async fn kill(&self, s: &SessionName) -> Result<(), TmuxError> {
        self.evict(s);
        let (verb, target) = match s.window() {
            Some(_) => ("kill-window", s.pane_target()),
            None => ("kill-session", s.exact_target()),
        };
        self.ignore_missing(&[verb, "-t", &target]).await
    }

    /// Stops one agent as [`super::capacity::list`] found it, by its window's id (exact, and
    /// never another window: ids are not reused while the server runs).
    pub async fn kill_agent(&self, a: &super::capacity::Agent) -> Result<(), TmuxError> {
        self.evict(&a.session);
        self.ignore_missing(&["kill-window", "-t", &a.window_id])
            .await
    }

    async fn ignore_missing(&self, args: &[&str]) -> Result<(), TmuxError> {
        match self.tmux.run(args).await {
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

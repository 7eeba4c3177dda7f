//! The live-agent limit of one tmux server (`PALIADIN_MAX_LIVE_AGENTS`): before a turn starts
//! an agent on a full server, the least recently used *idle* agent is stopped (cleanly, as an
//! idle stop: its conversation resumes with its next turn); when every agent is at work, the
//! turn does not start one and waits in the queue ([`crate::contract::DriveError::AgentsFull`]).
//!
//! An owner holds at most `PALIADIN_MAX_LIVE_AGENTS_PER_USER` live agents (one per conversation,
//! each a window of the owner's session): a turn that would start one more first stops the
//! owner's own least recently used idle agent, or waits in the queue as above.
//!
//! The server itself is the shared state, so every worker and host agent on it agrees: an agent
//! is a window with [`USED_OPTION`] (when it was last used), and it is *at work* while its
//! [`TURN_OPTION`] (a Unix-seconds deadline, renewed every [`TURN_RENEW`] while a turn runs
//! on it) lies ahead, or while its busy marker (`super::busy`) exists. Counting and starting
//! happen under one `flock` on `<spool>/.agents.lock`, so two processes never both take the
//! last free place.

use super::session::USED_OPTION;
use super::{Tmux, TmuxError};
use clap::Args;
use paliadin_shared::SessionName;
use paliadin_shared::domain::WINDOW_PREFIX;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

/// The tmux user option that says a turn runs on the session's agent until this Unix second.
pub const TURN_OPTION: &str = "@paliadin-turn";
/// How far ahead a running turn's [`TURN_OPTION`] reaches: a worker that died mid-turn leaves a
/// mark that lapses this long after its last renewal.
pub const TURN_MARK: Duration = Duration::from_secs(60);
/// How often a running turn renews its mark.
pub const TURN_RENEW: Duration = Duration::from_secs(20);
/// Memory one live agent is budgeted by default: Claude Code holds about 300 MB (297 MB RSS
/// measured idle after three turns), plus room for its tools and the host itself.
pub const BUDGET_PER_AGENT: u64 = 400 * 1024 * 1024;
/// How long a start waits for the host's agent lock before it gives up and waits in the queue.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The limit's setting, shared by the worker and the host agent.
#[derive(Debug, Clone, Default, Args)]
pub struct LimitSettings {
    /// Most live agents on one tmux host (`docs/operations.md`, "Live agents"): before a turn
    /// starts an agent on a full host, the least recently used idle agent is stopped (its
    /// conversation resumes with its next turn); when none is idle, the turn waits in the queue.
    /// Default: the host's memory over 400 MiB (about 300 MB per Claude Code agent), at least 1;
    /// 0: no limit.
    #[arg(long, env = "PALIADIN_MAX_LIVE_AGENTS",
        value_parser = clap::value_parser!(u64).range(0..=MAX_LIMIT))]
    pub max_live_agents: Option<u64>,
    /// Most live agents of one owner on one tmux host (one per conversation,
    /// `docs/operations.md`, "Live agents"): before a turn starts another, the owner's least
    /// recently used idle agent is stopped; when none is idle, the turn waits in the queue.
    /// 0: no limit of its own.
    #[arg(long, env = "PALIADIN_MAX_LIVE_AGENTS_PER_USER", default_value_t = 3,
        value_parser = clap::value_parser!(u64).range(0..=MAX_LIMIT))]
    pub max_live_agents_per_user: u64,
}

/// The largest `PALIADIN_MAX_LIVE_AGENTS` taken.
pub const MAX_LIMIT: u64 = 10_000;

impl LimitSettings {
    /// The limit for this host: None when there is none.
    pub fn resolve(&self) -> Option<usize> {
        match self.max_live_agents {
            Some(0) => None,
            Some(n) => Some(n as usize),
            None => Some(derived_limit()),
        }
    }

    /// The limit per owner: None when there is none.
    pub fn per_user(&self) -> Option<usize> {
        (self.max_live_agents_per_user > 0).then_some(self.max_live_agents_per_user as usize)
    }
}

/// This host's memory (`MemTotal`) over [`BUDGET_PER_AGENT`], at least 1.
pub fn derived_limit() -> usize {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| mem_total(&m))
        .unwrap_or(0);
    limit_for(total)
}

/// The default limit for a host of `bytes` of memory.
pub fn limit_for(bytes: u64) -> usize {
    ((bytes / BUDGET_PER_AGENT) as usize).max(1)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// One agent as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// Its address: a conversation's window (`<session>:c-<hex>`), or a session whose agent
    /// was started before windows.
    pub session: SessionName,
    /// tmux's id of its window (`@<n>`), to stop exactly this one.
    pub window_id: String,
    /// When it was last used (Unix milliseconds; [`USED_OPTION`] holds seconds with
    /// milliseconds, or whole seconds from older releases).
    pub used_ms: u64,
    /// Until when a turn runs on it (Unix seconds, [`TURN_OPTION`]; 0: none).
    pub turn_until: u64,
    /// Its process has exited (a pane kept while it starts).
    pub dead: bool,
}

impl Agent {
    /// No turn runs on it now (its busy marker is for the caller to check).
    pub fn between_turns(&self, now: u64) -> bool {
        self.turn_until <= now
    }
}

/// The agents of the server (the windows with [`USED_OPTION`]); none when no server runs.
pub async fn list(tmux: &Tmux) -> Result<Vec<Agent>, TmuxError> {
    let fmt = format!(
        "#{{session_name}}\t#{{window_name}}\t#{{window_id}}\t#{{{USED_OPTION}}}\t\
         #{{{TURN_OPTION}}}\t#{{pane_dead}}"
    );
    let out = match tmux.run(&["list-windows", "-a", "-F", &fmt]).await {
        Err(e) if e.is_missing() => return Ok(Vec::new()),
        other => other?,
    };
    Ok(parse(&out))
}

fn parse(out: &str) -> Vec<Agent> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (session, window, window_id) = (f.next()?, f.next()?, f.next()?);
            // A conversation's window, or the one agent of a session from before windows.
            let session = match window.starts_with(WINDOW_PREFIX) {
                true => SessionName::parse(&format!("{session}:{window}")).ok()?,
                false => SessionName::parse(session).ok()?,
            };
            let used: f64 = f.next()?.parse().ok()?;
            let used_ms = (used * 1000.0) as u64;
            let turn_until = f.next().and_then(|t| t.parse().ok()).unwrap_or(0);
            let dead = f.next() == Some("1");
            Some(Agent {
                session,
                window_id: window_id.to_owned(),
                used_ms,
                turn_until,
                dead,
            })
        })
        .collect()
}

/// The agent to stop to make room for `me`: the least recently used one that is neither at
/// work (`busy`: its busy marker) nor `me`'s own.
pub fn least_recently_used<'a>(
    agents: &'a [Agent],
    me: &SessionName,
    now: u64,
    busy: impl Fn(&SessionName) -> bool,
) -> Option<&'a Agent> {
    agents
        .iter()
        .filter(|a| !a.dead && &a.session != me && a.between_turns(now) && !busy(&a.session))
        .min_by_key(|a| (a.used_ms, a.session.as_str().to_owned()))
}

/// The host's agent lock, held while agents are counted and one is started; released on drop
/// (and by the kernel if the process dies).
#[derive(Debug)]
pub struct AgentsLock {
    _file: File,
}

/// Takes `<spool>/.agents.lock`, polling, at most [`LOCK_WAIT`].
pub async fn lock(spool: &Path) -> std::io::Result<AgentsLock> {
    let path = spool.join(".agents.lock");
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => return Ok(AgentsLock { _file: file }),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(TryLockError::WouldBlock) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "another process holds the host's agent lock",
                ));
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// Why an agent stopped, for the metrics (`paliadin_agent_stops_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// No turn for `PALIADIN_AGENT_IDLE_SECS`.
    Idle,
    /// Stopped to make room on a full host (least recently used).
    Capacity,
    /// Found gone during its turn or just before its next paste.
    Crash,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Idle => "idle",
            StopReason::Capacity => "capacity",
            StopReason::Crash => "crash",
        }
    }
}

/// What a [`super::TmuxHost`] tells about its agents (the local driver turns it into
/// metrics; the host agent has no registry and keeps the default, which does nothing).
pub trait AgentEvents: Send + Sync {
    /// An agent was started; `resumed`: it continues a conversation with earlier turns.
    fn started(&self, _resumed: bool) {}
    fn stopped(&self, _reason: StopReason, _n: usize) {}
    /// The server was looked at: this many live agents, of at most `max` (None: no limit).
    fn counted(&self, _live: usize, _max: Option<usize>) {}
}

/// [`AgentEvents`] that go nowhere.
pub struct NoEvents;
impl AgentEvents for NoEvents {}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: &str) -> SessionName {
        SessionName::parse(n).unwrap()
    }

    #[test]
    fn the_default_limit_follows_the_memory() {
        assert_eq!(limit_for(0), 1);
        assert_eq!(limit_for(24 * 1024 * 1024 * 1024), 61);
        let info = "MemTotal:       24683784 kB\nMemFree:  1 kB\n";
        assert_eq!(mem_total(info), Some(24683784 * 1024));
        assert_eq!(
            LimitSettings {
                max_live_agents: Some(0),
                max_live_agents_per_user: 3
            }
            .resolve(),
            None
        );
        assert_eq!(
            LimitSettings {
                max_live_agents: Some(2),
                max_live_agents_per_user: 0
            }
            .resolve(),
            Some(2)
        );
    }

    #[test]
    fn the_least_recently_used_idle_agent_is_chosen() {
        let out = "paliadin-aaaa\tclaude\t@1\t100\t0\t0\npaliadin-bbbb\tc-b\t@2\t50\t999\t0\n\
                   paliadin-cccc\tnode\t@3\t70.5\t\t0\npaliadin-dddd\tenv\t@4\t10\t0\t1\n\
                   control\tx\t@5\t\t\t0\npaliadin-ffff\tclaude\t@6\t70.25\t0\t0\n";
        let agents = parse(out);
        assert_eq!(agents.len(), 5, "{agents:?}");
        assert_eq!(agents[2].used_ms, 70_500);
        // A conversation's window is addressed in its session; an agent from before windows
        // by its session.
        assert_eq!(agents[1].session.as_str(), "paliadin-bbbb:c-b");
        assert_eq!(agents[1].window_id, "@2");
        assert_eq!(agents[0].session.as_str(), "paliadin-aaaa");
        let now = 200;
        // bbbb is at work (its mark lies ahead), dddd is dead: ffff is the oldest idle one,
        // by milliseconds.
        let lru = least_recently_used(&agents, &s("paliadin-eeee"), now, |_| false);
        assert_eq!(lru.map(|a| a.session.as_str()), Some("paliadin-ffff"));
        // Busy markers keep them too; the caller's own session is never chosen.
        let lru = least_recently_used(&agents, &s("paliadin-aaaa"), now, |x| {
            ["paliadin-cccc", "paliadin-ffff"].contains(&x.as_str())
        });
        assert_eq!(lru, None);
        // A lapsed mark (a worker that died mid-turn) no longer protects it.
        let lru = least_recently_used(&agents, &s("paliadin-eeee"), 1000, |_| false);
        assert_eq!(lru.map(|a| a.session.as_str()), Some("paliadin-bbbb:c-b"));
    }
}

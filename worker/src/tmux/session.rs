//! Session lifecycle on one tmux server: create, check, wait until ready, kill.
//!
//! Sessions are always targeted exactly: `=name` for session commands and `=name:` for the
//! session's active pane (verified on tmux 3.3a; a bare `name` would prefix-match `name-2`).
//! Successful health checks are cached per session for `health_ttl`; any failure and every
//! reset evicts the entry, so the next turn checks again.

use super::{Tmux, TmuxConfig, TmuxError};
use paliadin_shared::SessionName;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::time::MissedTickBehavior;

/// What a health check saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The pane's process runs; `command` is tmux's `#{pane_current_command}` (for logs).
    Alive { command: String },
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
    /// Started just now: the agent may still be starting.
    Created,
}

/// Session operations plus the per-session health cache.
#[derive(Debug)]
pub struct Sessions {
    tmux: Tmux,
    /// When each session was last seen alive.
    healthy: Mutex<HashMap<SessionName, Instant>>,
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

    fn mark_alive(&self, s: &SessionName) {
        let mut map = self.healthy.lock().expect("cache lock");
        map.insert(s.clone(), Instant::now());
    }

    fn cached(&self, s: &SessionName) -> bool {
        let map = self.healthy.lock().expect("cache lock");
        map.get(s).is_some_and(|t| t.elapsed() < self.ttl)
    }

    /// One `display` call. tmux 3.3a prints empty fields and exits 0 for a missing session, so
    /// the reply must name the session to count as found (newer versions exit 1 instead).
    pub async fn health(&self, s: &SessionName) -> Result<Health, TmuxError> {
        let fmt = "#{session_name}\t#{pane_dead}\t#{pane_current_command}";
        let out = match self
            .tmux
            .run(&["display-message", "-p", "-t", &s.pane_target(), fmt])
            .await
        {
            Err(e) if e.is_missing() => return Ok(Health::Missing),
            other => other?,
        };
        let mut fields = out.trim_end_matches('\n').splitn(3, '\t');
        let health = match (fields.next(), fields.next(), fields.next()) {
            (Some(name), _, _) if name != s.as_str() => Health::Missing,
            (_, Some("1"), _) => Health::Dead,
            (_, _, cmd) => Health::Alive {
                command: cmd.unwrap_or("").to_owned(),
            },
        };
        match &health {
            Health::Alive { .. } => self.mark_alive(s),
            _ => self.evict(s),
        }
        Ok(health)
    }

    /// Makes sure the session runs an agent: trusts the cache, else checks, else (re)creates.
    pub async fn ensure(&self, s: &SessionName, cfg: &TmuxConfig) -> Result<Ensured, TmuxError> {
        if self.cached(s) {
            return Ok(Ensured::Cached);
        }
        match self.health(s).await? {
            Health::Alive { .. } => return Ok(Ensured::Checked),
            Health::Dead => self.kill(s).await?,
            Health::Missing => {}
        }
        self.create(s, cfg).await?;
        Ok(Ensured::Created)
    }

    /// `new-session -d` with the agent argv passed as separate words. tmux runs a *single* word
    /// through `sh -c`, so a one-word command is prefixed with `env --` to stay shell-free.
    pub async fn create(&self, s: &SessionName, cfg: &TmuxConfig) -> Result<(), TmuxError> {
        let (w, h) = (cfg.width.to_string(), cfg.height.to_string());
        let spool = format!("PALIADIN_SPOOL_DIR={}", path_str(&cfg.spool_dir));
        let session = format!("PALIADIN_SESSION={s}");
        let workdir = path_str(&cfg.workdir);
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
            "-e",
            &spool,
            "-e",
            &session,
            "--",
        ];
        if cfg.agent_argv.len() == 1 {
            args.extend(["env", "--"]);
        }
        args.extend(cfg.agent_argv.iter().map(String::as_str));
        match self.tmux.run(&args).await {
            // Another worker created it a moment ago: that one is as good as ours.
            Err(TmuxError::Failed { stderr, .. }) if stderr.contains("duplicate session") => {}
            other => {
                other?;
            }
        }
        // A never-attached pane may not have seen a SIGWINCH; setting the size sends one.
        let target = s.pane_target();
        let _ = self
            .tmux
            .run(&["resize-window", "-t", &target, "-x", &w, "-y", &h])
            .await;
        self.evict(s);
        Ok(())
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
    /// most `timeout`; past that the paste goes ahead anyway.
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
        while started.elapsed() < timeout {
            tick.tick().await;
            let screen = super::deliver::capture(&self.tmux, &s.pane_target()).await?;
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

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

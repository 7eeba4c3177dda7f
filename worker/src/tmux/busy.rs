//! The agent's busy marker, `<spool>/.busy-<session>`: Claude Code's prompt hook creates it
//! when a prompt is submitted and its Stop hook removes it when Claude has finished responding
//! (docs/agent-protocol.md). A reply can be complete while the agent still works (it reports
//! the written file back to its model), and text pasted then is queued by the agent into that
//! work instead of arriving as the next prompt, so the next turn waits for the marker to go.
//! Agents that never write it (the demo agent) are always idle.
//!
//! Claude Code is not ready for the next prompt the instant its Stop hook exits either: it
//! still finishes the turn, and text that arrives in those milliseconds is queued into that
//! work (and can stay in its input line). So the hook also leaves `<spool>/.stopped-<session>`
//! when it lets Claude stop, and the next turn takes that stamp as "has just finished" and lets
//! the screen settle first — even when the marker had already gone when it looked, which is
//! the rule when the Stop hook wrote the reply itself (the worker has the reply and the next
//! turn before the hook has exited).

use paliadin_shared::SessionName;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;

/// How often the marker is looked at while the agent is busy (never while it is idle).
const POLL: Duration = Duration::from_millis(20);

pub fn path(spool: &Path, session: &SessionName) -> PathBuf {
    spool.join(format!(".busy-{session}"))
}

/// The stamp the Stop hook leaves when it lets the agent stop.
pub fn stopped_path(spool: &Path, session: &SessionName) -> PathBuf {
    spool.join(format!(".stopped-{session}"))
}

/// How long after the Stop hook's stamp the agent counts as having "just" stopped: Claude Code
/// takes text as its next prompt a few milliseconds after its Stop hook exits, so an older
/// stamp needs no settling wait (which cost every turn about 100 ms, `docs/performance.md`,
/// "Hooks").
const JUST_STOPPED: Duration = Duration::from_secs(2);

/// Takes the Stop hook's stamp: true when the agent has stopped since the last look, within
/// [`JUST_STOPPED`].
fn take_stopped(spool: &Path, session: &SessionName) -> bool {
    let path = stopped_path(spool, session);
    let age = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok());
    std::fs::remove_file(&path).is_ok() && age.is_none_or(|a| a < JUST_STOPPED)
}

/// What [`wait_idle`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idle {
    /// No marker and no stamp: the agent was idle.
    Already,
    /// The marker went away while waiting, or the Stop hook's stamp was there: the agent has
    /// just finished (its screen may still be settling: Claude Code queues text that arrives
    /// in the next few milliseconds).
    JustNow,
    /// The marker is still there after the limit.
    StillBusy,
}

/// Waits until the marker is gone, at most `limit`; takes the Stop hook's stamp.
pub async fn wait_idle(spool: &Path, session: &SessionName, limit: Duration) -> Idle {
    let marker = path(spool, session);
    if !marker.exists() {
        return match take_stopped(spool, session) {
            true => Idle::JustNow,
            false => Idle::Already,
        };
    }
    let deadline = Instant::now() + limit;
    loop {
        if !marker.exists() {
            take_stopped(spool, session);
            return Idle::JustNow;
        }
        if Instant::now() >= deadline {
            return Idle::StillBusy;
        }
        tokio::time::sleep(POLL.min(deadline - Instant::now())).await;
    }
}

/// Removes the marker: after the worker interrupted the agent (Escape makes it stop without
/// its Stop hook) or started a new agent in the session.
pub fn clear(spool: &Path, session: &SessionName) {
    match std::fs::remove_file(path(spool, session)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, "cannot remove the agent's busy marker"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_without_marker_busy_until_removed_just_finished_after_a_stamp() {
        let dir = std::env::temp_dir().join(format!("paliadin-busy-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = SessionName::parse("paliadin-0000abcd").unwrap();
        assert_eq!(wait_idle(&dir, &s, Duration::ZERO).await, Idle::Already);
        std::fs::write(path(&dir, &s), "turn\n").unwrap();
        let limit = Duration::from_millis(50);
        assert_eq!(wait_idle(&dir, &s, limit).await, Idle::StillBusy);
        let (d2, s2) = (dir.clone(), s.clone());
        let remover = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            clear(&d2, &s2);
        });
        let limit = Duration::from_secs(5);
        assert_eq!(wait_idle(&dir, &s, limit).await, Idle::JustNow);
        remover.await.unwrap();
        // The Stop hook's stamp without a marker: just finished, once.
        std::fs::write(stopped_path(&dir, &s), "now\n").unwrap();
        assert_eq!(wait_idle(&dir, &s, limit).await, Idle::JustNow);
        assert_eq!(wait_idle(&dir, &s, limit).await, Idle::Already);
        // A stamp from long ago: the agent has long settled.
        let old = std::fs::File::create(stopped_path(&dir, &s)).unwrap();
        let then = std::time::SystemTime::now() - 2 * JUST_STOPPED;
        old.set_modified(then).unwrap();
        assert_eq!(wait_idle(&dir, &s, limit).await, Idle::Already);
        assert!(!stopped_path(&dir, &s).exists(), "the stamp is taken");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Delivery: getting the envelope into the agent's input and confirming it was submitted.
//!
//! The text never appears in argv and never meets a shell: it goes to a uniquely named tmux
//! buffer ([`Tmux::load_buffer`]: a private file the control client loads, or a CLI client's
//! stdin, `load-buffer -b NAME -`), then `paste-buffer -p -d -r`
//! pastes it (bracketed if the agent asked for it, LF kept as LF, buffer deleted after). Enter
//! is a separate `send-keys`, sent at once (measured against Claude Code: docs/claude-code.md,
//! "Delivery timing"; `settle` can add a pause), except into an agent that has just started,
//! which gets it once the paste shows on its screen ([`drawn`]). Submission is
//! confirmed by the agent's `.ack` file (or any other file of the turn); without one, Enter is
//! retried; an agent that writes no ack at all is recognised, after the last attempt, by its
//! screen having changed.

use super::{Tmux, TmuxConfig, TmuxError};
use crate::contract::TurnControl;
use crate::spool::TurnFeed;
use std::sync::atomic::{AtomicU64, Ordering};
use uuid::Uuid;

static NEXT_BUFFER: AtomicU64 = AtomicU64::new(0);

/// How submission was confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// The agent recorded a receipt after `enters` Enter keys.
    Ack { enters: u32 },
    /// No receipt, but the screen changed after `enters` Enter keys (an agent without acks).
    ScreenChanged { enters: u32 },
}

/// Why submission could not be confirmed.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Tmux(#[from] TmuxError),
    #[error(
        "the agent did not take the message: no receipt and an unchanged screen after {0} Enter keys"
    )]
    NotTaken(u32),
    /// The worker no longer holds the turn (`TurnControl::may_act`): no Enter was sent.
    #[error("this worker no longer holds the turn")]
    LeaseLost,
}

/// Waits until `pane` shows something else than `before` (a paste drawn in the agent's input),
/// polling every 20 ms, at most `limit`; false when it never did.
pub async fn drawn(tmux: &Tmux, pane: &str, before: &str, limit: std::time::Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if capture(tmux, pane).await.is_ok_and(|now| now != before) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Pastes `text` into `pane` through a private buffer. Nothing reaches the pane on error.
pub async fn paste(tmux: &Tmux, pane: &str, turn: Uuid, text: &str) -> Result<(), TmuxError> {
    let buffer = format!(
        "paliadin-{}-{}-{}",
        turn.simple(),
        std::process::id(),
        NEXT_BUFFER.fetch_add(1, Ordering::Relaxed)
    );
    tmux.load_buffer(&buffer, text.as_bytes()).await?;
    let pasted = tmux
        .run(&["paste-buffer", "-p", "-d", "-r", "-b", &buffer, "-t", pane])
        .await;
    if pasted.is_err() {
        let _ = tmux.run(&["delete-buffer", "-b", &buffer]).await;
    }
    pasted.map(|_| ())
}

/// `send-keys -t PANE KEY` for a fixed key name (`Enter`, `Escape`): never user text.
pub async fn key(tmux: &Tmux, pane: &str, key: &'static str) -> Result<(), TmuxError> {
    tmux.run(&["send-keys", "-t", pane, key]).await.map(|_| ())
}

/// Clears the agent's input line: `presses` times Ctrl-U (delete to the start of the line; at
/// the start of a line of a multi-line input, the line break). Agents that do not edit with it
/// ignore the control key; on an empty input it does nothing.
pub async fn clear_input(tmux: &Tmux, pane: &str, presses: usize) -> Result<(), TmuxError> {
    let n = presses.max(1).to_string();
    tmux.run(&["send-keys", "-N", &n, "-t", pane, "C-u"])
        .await
        .map(|_| ())
}

/// The pane's visible text.
pub async fn capture(tmux: &Tmux, pane: &str) -> Result<String, TmuxError> {
    tmux.run(&["capture-pane", "-p", "-t", pane]).await
}

/// After a paste: settle (zero by default), Enter, wait for a receipt; retry Enter up to `enter_attempts` times.
/// Before the first Enter the spool records it (`<turn>.entered`): a later attempt then knows
/// the agent may have the message even while no receipt exists yet (`super::resume`).
/// Each Enter is sent only while `control` says this worker still holds the turn.
/// Only a receipt confirms early: a screen that changes proves nothing while an agent is still
/// drawing its first screen (Claude Code takes a paste then, but drops the Enter that follows),
/// and an extra Enter on an empty input is harmless. A changed screen counts only after the
/// last attempt, for agents that write no receipt at all.
pub async fn submit(
    tmux: &Tmux,
    pane: &str,
    feed: &mut TurnFeed,
    cfg: &TmuxConfig,
    control: &TurnControl,
) -> Result<Confirmed, SubmitError> {
    if !cfg.settle.is_zero() {
        tokio::time::sleep(cfg.settle).await;
    }
    let before = capture(tmux, pane).await?;
    let attempts = cfg.enter_attempts.max(1);
    for enters in 1..=attempts {
        if !control.may_act() {
            return Err(SubmitError::LeaseLost);
        }
        if enters == 1
            && let Err(e) = feed.mark_entered()
        {
            tracing::warn!(error = %e, "cannot record the Enter in the spool");
        }
        key(tmux, pane, "Enter").await?;
        let deadline = tokio::time::Instant::now() + cfg.ack_timeout;
        if feed.wait_received(deadline).await {
            return Ok(Confirmed::Ack { enters });
        }
        tracing::info!(enters, "no receipt from the agent yet; sending Enter again");
    }
    if capture(tmux, pane).await? != before {
        tracing::warn!(
            attempts,
            "no receipt from the agent, but its screen changed"
        );
        return Ok(Confirmed::ScreenChanged { enters: attempts });
    }
    Err(SubmitError::NotTaken(attempts))
}

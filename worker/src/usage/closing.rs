//! The request that closes a turn. Claude Code writes the reply file with a tool call and then
//! tells its model so, once more: that last request (the whole context again, mostly cache
//! reads) ends after the reply is in, so the usage read with the reply lacks it. Once the agent
//! has stopped (its busy marker gone: `crate::tmux::busy`), [`count_when_stopped`] reads the
//! turn again and adds the growth to `paliadin_agent_tokens_total`, so that the metric holds
//! the whole turn shortly after it ended. The stored row grows with the next turn's read
//! (`turn_usage` only grows).

use super::transcript;
use paliadin_shared::domain::usage::Usage;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// The longest wait for the agent to stop; the transcript is read then anyway (a later read
/// only finds more of the same turn, never another turn's requests).
pub const STOP_WAIT: Duration = Duration::from_secs(120);

/// How long after the agent stopped the transcript is read for the closing request.
pub const WRITE_WAIT: Duration = Duration::from_secs(5);

/// How often the busy marker and then the transcript are looked at meanwhile (a background
/// task, not a turn's path).
const POLL: Duration = Duration::from_millis(100);

/// Reads `turn`'s usage from `transcript_path` once `busy` is gone (at most [`STOP_WAIT`]), until
/// it adds to `counted` (what was counted when the reply came in; at most [`WRITE_WAIT`]), and
/// counts the growth once; in the background.
pub fn count_when_stopped(busy: PathBuf, transcript_path: PathBuf, turn: Uuid, counted: Usage) {
    tokio::spawn(async move {
        let deadline = Instant::now() + STOP_WAIT;
        while busy.exists() && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
        // Claude Code writes its transcript in batches: the closing request may land a little
        // after the agent stopped (and a turn whose reply the Stop hook wrote has none).
        let deadline = Instant::now() + WRITE_WAIT;
        loop {
            let p = transcript_path.clone();
            let all = tokio::task::spawn_blocking(move || transcript::read(&p, turn))
                .await
                .unwrap_or_default();
            let now = all.into_iter().find(|t| t.turn_id == turn);
            if let Some(more) = now.and_then(|now| growth(&counted, &now.usage)) {
                tracing::debug!(
                    output = more.output,
                    cache_read = more.cache_read,
                    "the turn's closing request counted"
                );
                super::metrics::count(&more);
                return;
            }
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    });
}

/// What `now` adds to `before`, by kind (never negative); `None` when nothing.
pub fn growth(before: &Usage, now: &Usage) -> Option<Usage> {
    let more = Usage {
        model: now.model.clone(),
        input: (now.input - before.input).max(0),
        output: (now.output - before.output).max(0),
        cache_read: (now.cache_read - before.cache_read).max(0),
        cache_creation: (now.cache_creation - before.cache_creation).max(0),
        ..Usage::default()
    };
    (more.input + more.output + more.cache_read + more.cache_creation > 0).then_some(more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_what_the_closing_request_added() {
        let before = Usage {
            model: "m".into(),
            input: 10,
            output: 5,
            cache_read: 100,
            cache_creation: 7,
            ..Usage::default()
        };
        let now = Usage {
            input: 13,
            output: 9,
            cache_read: 250,
            ..before.clone()
        };
        let more = growth(&before, &now).unwrap();
        assert_eq!(
            (
                more.input,
                more.output,
                more.cache_read,
                more.cache_creation
            ),
            (3, 4, 150, 0)
        );
        assert_eq!(more.model, "m");
        assert_eq!(growth(&now, &now), None);
        assert_eq!(growth(&now, &before), None, "never negative");
    }
}

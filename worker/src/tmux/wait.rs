//! Waiting for a delivered turn's reply: stream the spool, watch the session, parse the end.
//!
//! Spool changes arrive as events (inotify); the session is checked on a timer every
//! `health_interval`, because a dead agent writes nothing. When the check fails, the files are
//! read once more: an agent that wrote its reply and then exited still counts as answered.

use super::TmuxError;
use super::clock::TurnClock;
use super::session::{Health, Sessions};
use super::{api_error, dialog, retrying};
use crate::contract::{DriveError, Progress};
use crate::spool::{SpoolEvent, TurnFeed};
use paliadin_shared::SessionName;
use paliadin_shared::domain::agent_failure::AgentFailure;
use paliadin_shared::domain::permission::{DecidedBy, PermissionAnswer};
use paliadin_shared::domain::trailer::{Reply, TrailerError, parse_reply};
use std::time::Duration;
use tokio::time::Instant;
use tokio::time::MissedTickBehavior;

/// How often a running turn checks on its agent.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    /// Session health, every this often.
    pub every: Duration,
    /// After this long without news from the agent, look for a question on its screen.
    pub dialog_quiet: Duration,
}

/// Streams progress until the reply arrives or the session goes away.
pub async fn reply(
    sessions: &Sessions,
    watch: Watch,
    s: &SessionName,
    turn: Turn<'_>,
    feed: &mut TurnFeed,
) -> Result<Reply, DriveError> {
    let mut health = tokio::time::interval(watch.every);
    health.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut streamed = String::new();
    let mut news = Instant::now();
    let mut shown = Shown::default();
    loop {
        tokio::select! {
            biased;
            ev = feed.next() => {
                if let Some(done) = forward(ev, &mut streamed, turn, feed).await {
                    return done;
                }
                news = Instant::now();
            }
            _ = health.tick() => {
                let problem = match sessions.health(s).await {
                    Ok(Health::Alive { .. }) => {
                        // Nothing new from the agent: it may be retrying its model's API, or
                        // asking something in its terminal. Read its screen.
                        if news.elapsed() >= RETRY_QUIET {
                            let quiet = news.elapsed() >= watch.dialog_quiet;
                            let seen = look(sessions, s, turn.progress, &mut shown, quiet, feed.turn()).await;
                            if let Some(failure) = seen {
                                // A hook's report, if one came meanwhile, has the agent's own words.
                                feed.scan();
                                while let Some(ev) = feed.try_next() {
                                    if let Some(done) = forward(ev, &mut streamed, turn, feed).await {
                                        return done;
                                    }
                                }
                                tracing::info!(kind = %failure.kind, "the agent's screen shows a model API error no hook reported");
                                return Err(DriveError::Agent(failure));
                            }
                        }
                        continue;
                    }
                    Ok(Health::Dead) => DriveError::SessionLost("the agent exited".into()),
                    Ok(Health::Missing) => DriveError::SessionLost(format!("session {s} is gone")),
                    Err(e) => lost(e),
                };
                // The agent may have written its reply just before it went away.
                feed.scan();
                while let Some(ev) = feed.try_next() {
                    if let Some(done) = forward(ev, &mut streamed, turn, feed).await {
                        return done;
                    }
                }
                return Err(problem);
            }
        }
    }
}

/// After this long without news, a turn reads its agent's screen for a retry line.
const RETRY_QUIET: Duration = Duration::from_millis(500);

/// What a turn last reported from the agent's screen.
#[derive(Default)]
struct Shown {
    question: Option<String>,
    retry: Option<retrying::Retry>,
}

/// Reports a retry of the agent's model call (once per attempt) and, when `quiet` long enough,
/// a question on the agent's screen once (again only when it changes); returns a model API
/// error the screen shows under `turn`'s prompt that no hook reported (after `quiet` too).
async fn look(
    sessions: &Sessions,
    s: &SessionName,
    progress: &dyn Progress,
    shown: &mut Shown,
    quiet: bool,
    turn: uuid::Uuid,
) -> Option<AgentFailure> {
    let Ok(screen) = super::deliver::capture(sessions.tmux(), &s.pane_target()).await else {
        return None;
    };
    if let Some(r) = retrying::retry(&screen)
        && shown
            .retry
            .is_none_or(|old| (old.attempt, old.of) != (r.attempt, r.of))
    {
        tracing::info!(
            attempt = r.attempt,
            of = r.of,
            "the agent retries its model's API"
        );
        progress.retrying(r.attempt, r.of, r.next_in).await;
        shown.retry = Some(r);
    }
    if !quiet {
        return None;
    }
    if let Some(failure) = api_error::failure(&screen, turn) {
        return Some(failure);
    }
    let shown = &mut shown.question;
    if dialog::question(&screen).is_none() {
        *shown = None;
        return None;
    }
    let excerpt = dialog::excerpt(&screen);
    if shown.as_deref() != Some(excerpt.as_str()) {
        tracing::info!(
            "the agent shows a question no hook reported: the turn waits on the terminal"
        );
        progress.waiting(&excerpt).await;
        *shown = Some(excerpt);
    }
    None
}

/// Where a waiting turn reports to, and the clock its permission waits stop.
#[derive(Clone, Copy)]
pub struct Turn<'a> {
    pub progress: &'a dyn Progress,
    pub clock: &'a TurnClock,
}

/// Passes one spool event on; returns the turn's outcome when the reply arrived.
async fn forward(
    ev: SpoolEvent,
    streamed: &mut String,
    turn: Turn<'_>,
    feed: &TurnFeed,
) -> Option<Result<Reply, DriveError>> {
    let progress = turn.progress;
    match ev {
        SpoolEvent::Permission { n, ask } => {
            tracing::debug!(n, "the agent asks for permission");
            let answer = match ask {
                // The person's time is not the agent's: the turn's limit stands still meanwhile.
                Ok(ask) => turn.clock.paused(progress.permission(n, &ask)).await,
                Err(e) => {
                    tracing::warn!(n, error = %e, "denying a malformed permission request");
                    Some(PermissionAnswer::denied(DecidedBy::Worker, &e.to_string()))
                }
            };
            if let Some(answer) = answer
                && let Err(e) = feed.answer(n, &answer)
            {
                tracing::warn!(n, error = %e, "cannot write a permission decision for the agent");
            }
            None
        }
        SpoolEvent::Content(delta) => {
            streamed.push_str(&delta);
            progress.content(&delta).await;
            None
        }
        SpoolEvent::Activity(text) => {
            tracing::debug!(%text, "the agent's activity");
            progress.activity(&text).await;
            None
        }
        SpoolEvent::Compacting { done, trigger } => {
            tracing::info!(done, trigger, "the agent compacts its conversation");
            progress.compacting(done, trigger).await;
            None
        }
        SpoolEvent::Failure(failure) => {
            tracing::info!(kind = %failure.kind, "the agent's model call failed");
            Some(Err(DriveError::Agent(failure)))
        }
        SpoolEvent::Refused(reason) => Some(Err(DriveError::InvalidReply(TrailerError {
            reason,
            text: String::new(),
        }))),
        SpoolEvent::Reply(raw) => Some(match parse_reply(&raw) {
            Ok(reply) => {
                // Stream whatever part of the final text the partial file did not carry.
                match reply.text.strip_prefix(streamed.as_str()) {
                    Some(rest) if !rest.is_empty() => progress.content(rest).await,
                    Some(_) => {}
                    None if streamed.starts_with(&reply.text) => {}
                    None => tracing::warn!("the streamed text is not a prefix of the reply"),
                }
                Ok(reply)
            }
            Err(e) => Err(DriveError::InvalidReply(e)),
        }),
    }
}

/// A tmux failure while driving an existing session.
pub(crate) fn lost(e: TmuxError) -> DriveError {
    match e {
        TmuxError::NoServer(_) | TmuxError::NotFound(_) => DriveError::SessionLost(e.to_string()),
        TmuxError::Spawn { .. } | TmuxError::Failed { .. } => {
            DriveError::TmuxUnavailable(e.to_string())
        }
    }
}

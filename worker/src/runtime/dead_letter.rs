//! A turn past `PALIADIN_MAX_ATTEMPTS` (handovers not counted): its dead letter. An earlier
//! attempt may have delivered it, so the agent may still be working on it; the agent is
//! interrupted as a cancel does (Escape, then its input cleared), *before* the turn is failed
//! `worker_lost` and its conversation's group released — otherwise the conversation's next turn
//! would be pasted into that work and join it.

use super::Ctx;
use crate::driver::{Conversation, Progress, TurnControl, TurnSpec};
use async_trait::async_trait;
use paliadin_shared::attempt::{Attempt, Outcome};
use paliadin_shared::db::sessions;
use paliadin_shared::events::ErrorCode;
use paliadin_shared::{TurnKind, UserMessage};
use std::time::Duration;

/// How long the interrupt may take before the turn is failed anyway.
const INTERRUPT_LIMIT: Duration = Duration::from_secs(30);

/// The outcome of a dead-lettered turn, after its agent was interrupted.
pub async fn outcome(ctx: &Ctx, attempt: &Attempt) -> Outcome {
    interrupt(ctx, attempt).await;
    Outcome::Failed {
        code: ErrorCode::WorkerLost,
        message: format!(
            "no worker completed this turn in {} attempts",
            ctx.config.max_attempts
        ),
        text: None,
        kind: None,
    }
}

/// Runs the turn through its driver with the cancel already fired: the driver interrupts the
/// agent exactly as for a user's cancel, and pastes nothing.
async fn interrupt(ctx: &Ctx, attempt: &Attempt) {
    let (turn, host) = (attempt.turn(), attempt.host());
    if turn.kind != TurnKind::Message {
        return;
    }
    let (Ok(driver), Ok(message)) = (ctx.driver(host), UserMessage::parse(&turn.message)) else {
        return;
    };
    let session =
        match sessions::session_name(&ctx.pool, turn.user_id, host.as_str(), &ctx.prefix).await {
            Ok(s) => s.for_conversation(turn.session_id),
            Err(e) => {
                tracing::warn!(error = %e, "cannot resolve the session to interrupt its agent");
                return;
            }
        };
    let spec = TurnSpec {
        turn_id: turn.id,
        user_id: turn.user_id,
        session,
        // Delivered already: its agent is the one to interrupt, never switched.
        conversation: Conversation {
            id: turn.session_id,
            continues: true,
        },
        message,
        uploads: Vec::new(),
        already_delivered: true,
        resume: true,
        timeout: INTERRUPT_LIMIT,
    };
    let control = TurnControl {
        abandon: attempt.control().abandon.clone(),
        ..TurnControl::default()
    };
    control.cancel.cancel();
    let ended =
        tokio::time::timeout(INTERRUPT_LIMIT, driver.run_turn(&spec, &Unheard, &control)).await;
    tracing::info!(?ended, "dead letter: the agent was interrupted");
}

/// Progress of an interrupted dead letter: nothing of it is streamed any more.
struct Unheard;

#[async_trait]
impl Progress for Unheard {
    async fn delivered(&self) {}
    async fn content(&self, _delta: &str) {}
    async fn activity(&self, _text: &str) {}
    async fn waiting(&self, _screen: &str) {}
    async fn permission(
        &self,
        _n: u32,
        _ask: &paliadin_shared::domain::permission::PermissionAsk,
    ) -> Option<paliadin_shared::domain::permission::PermissionAnswer> {
        None
    }
}

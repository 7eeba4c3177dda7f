//! One leased message, from claim to terminal write: claim → [`Attempt`] → drive →
//! `attempt.finish(outcome)` (or `attempt.release()` when this worker lets go). Every database
//! write goes through the attempt, fenced by its number; its heartbeat runs until the end.

use super::Ctx;
use super::sink::EventSink;
use crate::driver::{Conversation, DriveCode, DriveError, TurnControl, TurnSpec};
use paliadin_shared::attempt::{Attempt, Outcome};
use paliadin_shared::db::{conversations, events, sessions};
use paliadin_shared::domain::trailer::{Reply, Trailer};
use paliadin_shared::queue::Leased;
use paliadin_shared::{TurnKind, UserMessage};
use std::sync::Arc;
use tracing::Instrument;

/// Runs one leased message to the end. Errors are logged; the lease then lapses and another
/// worker retries.
pub async fn run(ctx: Arc<Ctx>, leased: Leased, control: TurnControl) {
    // `user` and `attempt` are known once the row is claimed; declared here so `record` works.
    let span = tracing::info_span!(
        "turn",
        turn_id = %leased.turn_id,
        worker = %ctx.worker_id,
        host = %leased.host,
        user = tracing::field::Empty,
        attempt = tracing::field::Empty,
    );
    let _in_flight = ctx.metrics.in_flight_guard();
    async {
        if let Err(e) = run_inner(&ctx, &leased, control).await {
            tracing::error!(error = ?e, "turn failed inside the worker; its lease will lapse and it will be retried");
        }
    }
    .instrument(span)
    .await;
}

async fn run_inner(ctx: &Ctx, leased: &Leased, control: TurnControl) -> anyhow::Result<()> {
    let Some(attempt) = ctx.claimer.claim(leased, control).await? else {
        tracing::info!("the turn is already finished: its stale message was archived");
        return Ok(());
    };
    let turn = attempt.turn();
    tracing::Span::current().record("user", tracing::field::display(turn.user_id));
    tracing::Span::current().record("attempt", attempt.number());
    ctx.metrics.claimed(turn);
    tracing::info!(attempt = attempt.number(), user = %turn.user_id, kind = %turn.kind, "turn claimed");
    // Graceful handovers (releases) do not count: only claims that crashed or lost the turn.
    if turn.spent_attempts() > ctx.config.max_attempts {
        let outcome = super::dead_letter::outcome(ctx, &attempt).await;
        return conclude(ctx, attempt, outcome).await;
    }
    // The `claimed` event was written with the claim (`Claimer::max_attempts`).
    let result = drive(ctx, &attempt).await;
    // The agent's transcript grew: its increment goes to the database before the turn ends,
    // so the conversation's next turn finds it whichever host it runs on.
    if turn.kind == TurnKind::Message
        && !matches!(
            result,
            Err(DriveError::Abandoned | DriveError::HostUnreachable(_) | DriveError::AgentsFull(_))
        )
        && let Ok(driver) = ctx.driver(attempt.host())
    {
        crate::transcript_store::sync::after_turn(
            &ctx.pool,
            driver.as_ref(),
            turn.user_id,
            turn.session_id,
            ctx.config.transcript_max_bytes,
        )
        .await;
    }
    if let Err(DriveError::HostUnreachable(_)) = &result {
        super::failover::after_unreachable(ctx, &attempt).await;
    }
    let outcome = match result {
        Ok(mut reply) => {
            for t in &mut reply.usage {
                t.usage = ctx.config.prices.priced(std::mem::take(&mut t.usage));
            }
            // This turn's usage as read now. An earlier turn's growth (its closing request) is
            // counted by the local driver once its agent stops, else here, as it is stored.
            if let Some(this) = reply.usage.iter().find(|t| t.turn_id == leased.turn_id) {
                crate::usage::metrics::count(&this.usage);
            }
            if ctx
                .driver(attempt.host())
                .is_ok_and(|d| !d.counts_closing_requests())
            {
                crate::usage::later::count_growth(
                    &ctx.pool,
                    turn.user_id,
                    turn.session_id,
                    leased.turn_id,
                    &reply.usage,
                )
                .await;
            }
            Outcome::Succeeded(reply)
        }
        Err(e) => match e.code() {
            DriveCode::Cancelled => Outcome::Cancelled,
            DriveCode::Abandoned => {
                let_go(ctx, attempt).await;
                return Ok(());
            }
            DriveCode::Deferred => {
                wait_for_room(ctx, attempt, &e).await;
                return Ok(());
            }
            DriveCode::Failed(code) => {
                // The detail (SQL, tmux or ssh text, a host's stderr) is for the log; the person
                // sees a stable sentence per code.
                tracing::warn!(code = code.as_str(), detail = %e, "turn failed");
                if let Some(kind) = e.kind() {
                    ctx.metrics.agent_error(kind);
                }
                Outcome::Failed {
                    code,
                    message: public_message(&e),
                    text: e.kept_text().map(str::to_owned),
                    kind: e.kind().map(str::to_owned),
                }
            }
        },
    };
    conclude(ctx, attempt, outcome).await
}

/// What a person is told about a failed turn: one stable, human sentence per error code. Only
/// an `invalid_reply` says more — its reason comes from the worker's own checks of the reply
/// (a malformed trailer, a file over the size limit), never from a system or another host —
/// and an agent that exited as it started, whose last lines (the owner's own agent's screen,
/// bounded and cleaned) say why.
pub fn public_message(e: &DriveError) -> String {
    match e {
        DriveError::InvalidReply(t) => format!("the agent's reply was not usable: {}", t.reason),
        DriveError::Timeout => "the agent did not answer in time".into(),
        DriveError::SessionLost(_) => "the agent's session ended unexpectedly".into(),
        // The owner's own agent's screen: what it said as it exited (bounded and cleaned by
        // `tmux::session::last_lines`, also when it came from a host agent).
        DriveError::AgentExited(words) if words.is_empty() => {
            "the agent exited as it started, without a word; check PALIADIN_AGENT_CMD".into()
        }
        DriveError::AgentExited(words) => {
            format!("the agent exited as it started; its terminal showed: {words}")
        }
        DriveError::TmuxUnavailable(_) => "the agent's terminal could not be used".into(),
        DriveError::HostUnreachable(_) => "the agent's machine could not be reached".into(),
        DriveError::Upstream(_) => "something went wrong while running the agent".into(),
        // The agent's own words about its model call, cleaned and bounded (`AgentFailure`).
        DriveError::Agent(f) => f.message.clone(),
        DriveError::Cancelled => "cancelled".into(),
        DriveError::Abandoned => "handed over to another worker".into(),
        DriveError::AgentsFull(_) => "waiting for a free agent".into(),
    }
}

/// The driver let go of the turn: hand it over at once (shutdown), unless the attempt already
/// lost it (then another attempt owns it and there is nothing to hand over).
async fn let_go(ctx: &Ctx, attempt: Attempt) {
    if attempt.is_lost() {
        ctx.metrics.lease_losses.inc();
        tracing::info!("turn abandoned: this attempt lost it");
    } else if attempt.release().await {
        tracing::info!("turn released to another worker");
    }
}

/// How long a turn that found its host full waits before it is read again: one second more
/// for each time it was put back (or handed over), at most [`ROOM_RETRY_MAX_SECS`].
fn room_retry_secs(releases: i32) -> i32 {
    (1 + releases.max(0)).min(ROOM_RETRY_MAX_SECS)
}

/// The longest wait between two looks for room on a full host.
pub const ROOM_RETRY_MAX_SECS: i32 = 10;

/// Every agent of the turn's host is at work: the turn goes back to the queue (`queued`, with
/// the reason in its `status` event), spending no attempt, and is read again after a while.
async fn wait_for_room(ctx: &Ctx, attempt: Attempt, e: &DriveError) {
    let delay = room_retry_secs(attempt.turn().releases);
    ctx.metrics.deferred(attempt.host().as_str());
    if attempt.defer(delay, "agents_full").await {
        tracing::info!(detail = %e, delay_s = delay, "the host has no room for another agent: the turn waits in the queue");
    } else {
        ctx.metrics.lease_losses.inc();
        tracing::info!("could not put the turn back: another attempt owns it");
    }
}

/// Writes the outcome (fenced by the claimed attempt), then logs and counts it.
async fn conclude(ctx: &Ctx, attempt: Attempt, outcome: Outcome) -> anyhow::Result<()> {
    let label = outcome.label();
    let (state, code) = (outcome.state(), outcome.code());
    let (queued_at, turn_id, user, host) = (
        attempt.turn().queued_at,
        attempt.turn().id,
        attempt.turn().user_id,
        attempt.host().clone(),
    );
    if attempt.finish(outcome).await? {
        tracing::info!(outcome = %label, "turn finished");
        // Only now may the turn's files leave: a takeover after a failed commit needs them.
        ctx.driver(&host)?.settle(user, turn_id).await;
        let waited = (chrono::Utc::now() - queued_at).as_seconds_f64();
        ctx.metrics.turn_finished(state, code, waited);
    } else {
        tracing::warn!(outcome = %label, "turn result fenced out: another attempt owns it");
        ctx.metrics.lease_losses.inc();
    }
    Ok(())
}

/// Runs the driver for a message turn, or the reset for a reset turn.
async fn drive(ctx: &Ctx, attempt: &Attempt) -> Result<Reply, DriveError> {
    let (turn, host) = (attempt.turn(), attempt.host());
    // A database error here is transient (e.g. a killed connection): let go, and the next
    // attempt resolves it again, instead of failing the user's turn.
    let session = sessions::session_name(&ctx.pool, turn.user_id, host.as_str(), &ctx.prefix)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot resolve the session: letting the turn go");
            DriveError::Abandoned
        })?;
    if turn.kind == TurnKind::Reset {
        // A new conversation begins with the next message, whose agent is started for it
        // (`Sessions::ensure`); the agents of earlier conversations are not killed any more:
        // each resumes where it left off when its conversation is chosen again.
        let trailer = Trailer {
            classifier_tag: "reset".into(),
            ..Trailer::default()
        };
        return Ok(Reply {
            text: "A new conversation starts with your next message; earlier conversations \
                   stay in the list and resume where they left off."
                .into(),
            trailer,
            usage: Vec::new(),
            agent: None,
        });
    }
    let message = UserMessage::parse(&turn.message)
        .map_err(|e| DriveError::Upstream(format!("stored message is invalid: {e}")))?;
    // Whether the agent must continue this conversation if it has to be started.
    let continues =
        conversations::continues(&ctx.pool, turn.user_id, turn.session_id, turn.queued_at)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "cannot read the conversation: letting the turn go");
                DriveError::Abandoned
            })?;
    // The files sent with the message go to the agent with it (never again once delivered).
    let uploads = if turn.delivered_at.is_none() {
        super::uploads::of_turn(&ctx.pool, turn.id, host.as_str())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "cannot read the turn's uploads: letting the turn go");
                DriveError::Abandoned
            })?
    } else {
        Vec::new()
    };
    let spec = TurnSpec {
        turn_id: turn.id,
        user_id: turn.user_id,
        // Each conversation's agent is a window of its owner's session.
        session: session.for_conversation(turn.session_id),
        conversation: Conversation {
            id: turn.session_id,
            continues,
        },
        message,
        uploads,
        already_delivered: turn.delivered_at.is_some(),
        resume: attempt.number() > 1,
        timeout: ctx.config.turn_timeout(),
    };
    let (streamed, activities) = if spec.already_delivered {
        events::streamed(&ctx.pool, turn.id)
            .await
            .map_err(|e| DriveError::Upstream(format!("cannot read the turn's events: {e}")))?
    } else {
        (String::new(), 0)
    };
    // A host that lacks the conversation's transcript (another host after a failover, a wiped
    // home) gets it back from the database before its agent resumes it.
    if continues && !spec.already_delivered {
        crate::transcript_store::sync::before_turn(
            &ctx.pool,
            ctx.driver(host)?.as_ref(),
            turn.user_id,
            &spec.session,
            turn.session_id,
        )
        .await;
    }
    let steps = if spec.already_delivered || spec.resume {
        events::steps_written(&ctx.pool, turn.id)
            .await
            .map_err(|e| DriveError::Upstream(format!("cannot read the turn's events: {e}")))?
    } else {
        0
    };
    let sink = EventSink::new(attempt, streamed, activities, ctx.config.permission_wait())
        .with_steps(steps);
    let result = ctx
        .driver(host)?
        .run_turn(&spec, &sink, attempt.control())
        .await;
    sink.flush().await;
    let health = if result.is_ok() { "ok" } else { "error" };
    if let Err(e) = sessions::touch(&ctx.pool, turn.user_id, health).await {
        tracing::warn!(error = %e, "cannot record session use");
    }
    result
}

//! One claimed message, from claim to terminal write: claim the row (attempt + 1), hold the
//! lease with a heartbeat, run the driver, write the outcome — all fenced by the attempt.

use super::Ctx;
use super::finish::{Outcome, finish};
use super::sink::EventSink;
use crate::driver::{DriveError, TurnControl, TurnSpec};
use paliadin_shared::db::{sessions, turns};
use paliadin_shared::domain::trailer::{Reply, Trailer};
use paliadin_shared::events::{ErrorCode, StatusState};
use paliadin_shared::queue::Leased;
use paliadin_shared::{HostName, UserMessage};
use std::sync::Arc;
use tracing::Instrument;

/// Runs one leased message to the end. Errors are logged; the lease then lapses and another
/// worker retries.
pub async fn run(ctx: Arc<Ctx>, host: HostName, leased: Leased, control: TurnControl) {
    // `user` and `attempt` are known once the row is claimed; declared here so `record` works.
    let span = tracing::info_span!(
        "turn",
        turn_id = %leased.turn_id,
        worker = %ctx.worker_id,
        host = %host,
        user = tracing::field::Empty,
        attempt = tracing::field::Empty,
    );
    ctx.metrics.in_flight.inc();
    async {
        if let Err(e) = run_inner(&ctx, &host, &leased, control).await {
            tracing::error!(error = ?e, "turn failed inside the worker; its lease will lapse and it will be retried");
        }
    }
    .instrument(span)
    .await;
    ctx.metrics.in_flight.dec();
}

async fn run_inner(
    ctx: &Ctx,
    host: &HostName,
    leased: &Leased,
    control: TurnControl,
) -> anyhow::Result<()> {
    let Some(turn) = turns::claim(&ctx.pool, leased.turn_id, &ctx.worker_id).await? else {
        // Finished or cancelled meanwhile: the message is stale.
        let mut conn = ctx.pool.acquire().await?;
        ctx.queue.archive(&mut conn, host, leased.msg_id).await?;
        return Ok(());
    };
    let attempt = turn.attempt;
    tracing::Span::current().record("user", tracing::field::display(turn.user_id));
    tracing::Span::current().record("attempt", attempt);
    ctx.metrics.claimed.inc();
    if let (1, Some(claimed)) = (attempt, turn.claimed_at) {
        let wait = (claimed - turn.queued_at).as_seconds_f64();
        ctx.metrics.queue_wait.observe(wait.max(0.0));
    }
    tracing::info!(attempt, user = %turn.user_id, kind = %turn.kind, "turn claimed");
    if attempt > ctx.config.max_attempts {
        let message = format!(
            "no worker completed this turn in {} attempts",
            ctx.config.max_attempts
        );
        let outcome = Outcome::Failed {
            code: ErrorCode::WorkerLost,
            message,
            text: None,
        };
        conclude(ctx, host, &turn, leased.msg_id, outcome).await?;
        return Ok(());
    }
    let sink = EventSink::new(
        ctx.pool.clone(),
        turn.id,
        attempt,
        ctx.worker_id.clone(),
        host.to_string(),
        control.abandon.clone(),
    );
    sink.status(StatusState::Claimed).await;
    if turn.cancel_requested {
        control.cancel.cancel();
    }
    let lease_lost = tokio_util::sync::CancellationToken::new();
    let heartbeat = tokio::spawn(super::lease::hold(
        ctx.pool.clone(),
        ctx.queue.clone(),
        host.clone(),
        leased.msg_id,
        turn.id,
        attempt,
        ctx.config.lease_secs,
        ctx.config.heartbeat(),
        control.clone(),
        lease_lost.clone(),
    ));
    let result = drive(ctx, host, &turn, &sink, &control).await;
    if let Err(DriveError::HostUnreachable(_)) = &result {
        super::failover::after_unreachable(ctx, host, &turn).await;
    }
    heartbeat.abort();
    let outcome = match result {
        Ok(reply) => Outcome::Succeeded(reply),
        Err(DriveError::Cancelled) => Outcome::Cancelled,
        Err(DriveError::Abandoned) => {
            if lease_lost.is_cancelled() {
                ctx.metrics.lease_losses.inc();
            }
            if !lease_lost.is_cancelled() && !sink.lost.is_cancelled() {
                super::lease::release(&ctx.pool, &ctx.queue, host, leased.msg_id, turn.id, attempt)
                    .await;
            }
            tracing::info!("turn abandoned by this worker");
            return Ok(());
        }
        Err(e) => {
            let (code, text) = match &e {
                DriveError::Timeout => (ErrorCode::Timeout, None),
                DriveError::InvalidReply(t) => (ErrorCode::InvalidReply, Some(t.text.clone())),
                DriveError::SessionLost(_) => (ErrorCode::SessionLost, None),
                DriveError::TmuxUnavailable(_) => (ErrorCode::TmuxUnavailable, None),
                DriveError::HostUnreachable(_) => (ErrorCode::HostUnreachable, None),
                _ => (ErrorCode::UpstreamError, None),
            };
            Outcome::Failed {
                code,
                message: e.to_string(),
                text,
            }
        }
    };
    conclude(ctx, host, &turn, leased.msg_id, outcome).await
}

/// Writes the outcome (fenced by the claimed attempt), then logs and counts it.
async fn conclude(
    ctx: &Ctx,
    host: &HostName,
    turn: &turns::TurnRow,
    msg_id: i64,
    outcome: Outcome,
) -> anyhow::Result<()> {
    let (kind, code) = match &outcome {
        Outcome::Succeeded(_) => ("succeeded", None),
        Outcome::Cancelled => ("cancelled", None),
        Outcome::Failed { code, .. } => ("failed", Some(code.as_str())),
    };
    let label = code.map_or_else(|| kind.to_owned(), |c| format!("{kind}: {c}"));
    if finish(
        &ctx.pool,
        &ctx.queue,
        turn,
        host,
        msg_id,
        turn.attempt,
        outcome,
    )
    .await?
    {
        tracing::info!(outcome = %label, "turn finished");
        ctx.metrics.turn_finished(kind, code, since_queued(turn));
    } else {
        tracing::warn!(outcome = %label, "turn result fenced out: another attempt owns it");
        ctx.metrics.lease_losses.inc();
    }
    Ok(())
}

/// Seconds since the turn was queued (the worker's clock; as the `end` event's `duration_ms`).
fn since_queued(turn: &turns::TurnRow) -> f64 {
    (chrono::Utc::now() - turn.queued_at).as_seconds_f64()
}

/// Runs the driver for a message turn, or the reset for a reset turn.
async fn drive(
    ctx: &Ctx,
    host: &HostName,
    turn: &turns::TurnRow,
    sink: &EventSink,
    control: &TurnControl,
) -> Result<Reply, DriveError> {
    let session = sessions::session_name(&ctx.pool, turn.user_id, host.as_str(), &ctx.prefix)
        .await
        .map_err(|e| DriveError::Upstream(format!("cannot resolve the session: {e}")))?;
    if turn.kind == "reset" {
        ctx.driver(host)?.reset(&session).await?;
        let trailer = Trailer {
            classifier_tag: "reset".into(),
            ..Trailer::default()
        };
        return Ok(Reply {
            text: "The conversation was reset; the next turn starts a fresh agent.".into(),
            trailer,
        });
    }
    let message = UserMessage::parse(&turn.message)
        .map_err(|e| DriveError::Upstream(format!("stored message is invalid: {e}")))?;
    let spec = TurnSpec {
        turn_id: turn.id,
        user_id: turn.user_id,
        host: host.clone(),
        session,
        message,
        already_delivered: turn.delivered_at.is_some(),
        timeout: ctx.config.turn_timeout(),
    };
    let result = ctx.driver(host)?.run_turn(&spec, sink, control).await;
    let health = if result.is_ok() { "ok" } else { "error" };
    if let Err(e) = sessions::touch(&ctx.pool, turn.user_id, health).await {
        tracing::warn!(error = %e, "cannot record session use");
    }
    result
}

//! `SshDriver`: the [`Driver`] for agents on a remote tmux host, through the host agent
//! (`paliadin-shim serve`) over one persistent SSH channel ([`crate::ssh::Link`]).
//!
//! A turn is one `run` request on the channel; its progress lines become `Progress` calls. If
//! the channel drops mid-turn, the driver waits for the link to reconnect (at most the
//! connect bound) and asks again for the same turn: `takeover` when it already saw
//! `delivered`, else `run` — which the host agent turns into a takeover when the agent already has
//! the turn. Either way the message is pasted once. Content and activity already passed on
//! are not passed on twice: the new host agent replays the turn's files from the start, and the
//! driver skips as many bytes and events as it has already forwarded.

use super::{DriveCode, DriveError, Driver, Progress, TurnControl, TurnSpec};
use crate::host_agent::proto::{self, Body, Op, TurnArgs, WireCode};
use crate::ssh::{CallError, Conn, Link, LinkOptions, SshTarget};
use async_trait::async_trait;
use paliadin_shared::SessionName;
use paliadin_shared::domain::permission::{PermissionAnswer, PermissionAsk};
use paliadin_shared::domain::trailer::{Reply, TrailerError};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::Instant;

/// Past the turn's own limit (which the host agent enforces), how long the driver still waits for
/// the host agent's verdict before giving up on its own.
const GRACE: Duration = Duration::from_secs(10);
/// How long a reset may take once connected.
const RESET_LIMIT: Duration = Duration::from_secs(30);
/// How long one look at a pane may take once connected.
const PANE_LIMIT: Duration = Duration::from_secs(10);
/// How long an `agents` listing waits for the host's connection, and for its answer: the idle
/// sweep asks every served host in turn.
const AGENTS_WAIT: Duration = Duration::from_secs(1);
const AGENTS_LIMIT: Duration = Duration::from_secs(2);
/// The most live agents one host's listing may name.
const MAX_AGENTS: usize = 10_000;

/// Drives agents on one remote host. One instance serves many turns concurrently.
pub struct SshDriver {
    link: Link,
    /// How long a turn waits for a usable connection before failing `host_unreachable`.
    wait: Duration,
}

/// The fixed parts of one turn.
#[derive(Clone, Copy)]
struct Turn<'a> {
    spec: &'a TurnSpec,
    progress: &'a dyn Progress,
    control: &'a TurnControl,
    /// The driver's own backstop: the turn's limit plus [`GRACE`].
    hard: Instant,
}

/// What this worker already passed on for a turn, across reconnections.
#[derive(Default)]
struct Seen {
    delivered: bool,
    streamed: String,
    activities: usize,
    /// Time spent waiting for the person (permission requests): it moves the turn's limits.
    waited: Duration,
}

/// A permission request being answered on the worker's side, then sent back as `decide`.
type Asking<'a> = Pin<Box<dyn Future<Output = (u32, Option<PermissionAnswer>)> + Send + 'a>>;

impl SshDriver {
    /// Connects in the background at once (needs a tokio runtime); turns wait for the link at
    /// most `opts.connect_timeout`.
    pub fn new(label: &str, target: SshTarget, opts: LinkOptions) -> SshDriver {
        let wait = opts.connect_timeout;
        SshDriver::with_link(Link::start(label, target, opts), wait)
    }

    pub fn with_link(link: Link, wait: Duration) -> SshDriver {
        SshDriver { link, wait }
    }

    /// Runs one request of the turn on `conn`: `None` when the connection ended first.
    async fn pump(
        &self,
        conn: &Conn,
        op: Op,
        t: &Turn<'_>,
        seen: &mut Seen,
    ) -> Option<Result<Reply, DriveError>> {
        let Turn {
            spec,
            progress,
            control,
            hard,
        } = *t;
        let turn_id = spec.turn_id;
        let mut call = conn.request(op).ok()?;
        let (mut bytes, mut acts) = (0usize, 0usize);
        let mut cancelling = control.cancel.is_cancelled();
        if cancelling {
            let _ = conn.request(Op::Cancel { turn_id });
        }
        // One request is answered at a time (the agent waits on it); later ones queue.
        let mut asking: Option<(Instant, Asking<'_>)> = None;
        let mut queued: VecDeque<(u32, PermissionAsk)> = VecDeque::new();
        loop {
            if asking.is_none()
                && let Some((n, ask)) = queued.pop_front()
            {
                let ask_fut: Asking<'_> =
                    Box::pin(async move { (n, progress.permission(n, &ask).await) });
                asking = Some((Instant::now(), ask_fut));
            }
            let body = tokio::select! {
                biased;
                _ = control.abandon.cancelled() => {
                    let _ = conn.request(Op::Abandon { turn_id });
                    return Some(Err(DriveError::Abandoned));
                }
                _ = control.cancel.cancelled(), if !cancelling => {
                    cancelling = true;
                    let _ = conn.request(Op::Cancel { turn_id });
                    continue;
                }
                // The person's time does not count against the turn.
                _ = tokio::time::sleep_until(hard + seen.waited), if asking.is_none() => {
                    let _ = conn.request(Op::Cancel { turn_id });
                    return Some(Err(DriveError::Timeout));
                }
                (n, answer) = async { asking.as_mut().expect("guarded").1.as_mut().await }, if asking.is_some() => {
                    let (since, _) = asking.take().expect("guarded");
                    seen.waited += since.elapsed();
                    if let Some(answer) = answer {
                        let _ = conn.request(Op::Decide { turn_id, n, answer });
                    }
                    continue;
                }
                b = call.next() => b?,
            };
            // A request answered while an event was written (see [`alongside`]).
            let mut answered = None;
            match body {
                Body::Permission { n, ask } => {
                    tracing::debug!(n, "the host agent asks for a permission decision");
                    queued.push_back((n, ask));
                }
                Body::Waiting { screen } => {
                    answered = alongside(progress.waiting(&screen), &mut asking).await;
                }
                // Asked for with `statuses` (a host's numbers are shown, not trusted for more).
                Body::Retrying {
                    attempt,
                    of,
                    next_in,
                } => {
                    answered =
                        alongside(progress.retrying(attempt, of, next_in), &mut asking).await;
                }
                Body::Compacting { done, trigger } => {
                    let trigger = match trigger.as_str() {
                        "auto" => "auto",
                        "manual" => "manual",
                        _ => "unknown",
                    };
                    answered = alongside(progress.compacting(done, trigger), &mut asking).await;
                }
                // A host is not trusted: its step is bounded again here.
                Body::Step { step } => {
                    let step = step.bounded();
                    answered = alongside(progress.step(&step), &mut asking).await;
                }
                Body::Delivered if !seen.delivered => {
                    seen.delivered = true;
                    answered = alongside(progress.delivered(), &mut asking).await;
                }
                Body::Content { delta } => {
                    let start = bytes;
                    bytes += delta.len();
                    if bytes > seen.streamed.len() {
                        let skip = seen.streamed.len().saturating_sub(start);
                        let piece = delta.get(skip..).unwrap_or_else(|| {
                            tracing::warn!(
                                "a resumed turn's content does not line up; skipping a delta"
                            );
                            ""
                        });
                        seen.streamed.push_str(piece);
                        answered = alongside(progress.content(piece), &mut asking).await;
                    }
                }
                Body::Activity { text } => {
                    acts += 1;
                    if acts > seen.activities {
                        seen.activities = acts;
                        answered = alongside(progress.activity(&text), &mut asking).await;
                    }
                }
                Body::Reply {
                    text,
                    trailer,
                    usage,
                    agent,
                } => {
                    // The host parsed it, but a host is not trusted: its trailer must pass the
                    // same limits as a local one (else the result might not even commit).
                    if let Err(reason) = trailer.check() {
                        return Some(Err(DriveError::InvalidReply(TrailerError { reason, text })));
                    }
                    if let Some(rest) = text.strip_prefix(seen.streamed.as_str())
                        && !rest.is_empty()
                    {
                        progress.content(rest).await;
                    }
                    // A host's numbers are not trusted either: out-of-range usage is dropped.
                    let usage = usage.into_iter().filter(|u| u.usage.is_valid()).collect();
                    return Some(Ok(Reply {
                        text,
                        trailer,
                        usage,
                        agent,
                    }));
                }
                // The host agent let go on its own (it is stopping): resume on the next connection.
                Body::Error {
                    code: WireCode::Drive(DriveCode::Abandoned),
                    ..
                } => return None,
                Body::Error {
                    code,
                    message,
                    text,
                } => return Some(Err(proto::drive_error(code, message, text))),
                Body::Delivered
                | Body::Hello { .. }
                | Body::Ok { .. }
                | Body::Pane { .. }
                | Body::Agents { .. }
                | Body::Transcript { .. } => {}
            }
            if let Some((since, n, answer)) = answered {
                seen.waited += since.elapsed();
                if let Some(answer) = answer {
                    let _ = conn.request(Op::Decide { turn_id, n, answer });
                }
            }
        }
    }
}

/// Awaits `work` (an event write) while still driving the permission request being answered,
/// if any: that request's transaction may hold the turn's row, which `work` waits for, so
/// leaving it unpolled meanwhile deadlocks the turn (seen under load: a work-log step written
/// while the request was being recorded). Returns the request if it was answered meanwhile:
/// when it started, its number and the answer.
async fn alongside<'a>(
    work: impl Future<Output = ()>,
    asking: &mut Option<(Instant, Asking<'a>)>,
) -> Option<(Instant, u32, Option<PermissionAnswer>)> {
    tokio::pin!(work);
    let mut answered = None;
    loop {
        tokio::select! {
            biased;
            _ = &mut work => return answered,
            (n, answer) = async { asking.as_mut().expect("guarded").1.as_mut().await }, if asking.is_some() => {
                let (since, _) = asking.take().expect("guarded");
                answered = Some((since, n, answer));
            }
        }
    }
}

#[async_trait]
impl Driver for SshDriver {
    async fn run_turn(
        &self,
        spec: &TurnSpec,
        progress: &dyn Progress,
        control: &TurnControl,
    ) -> Result<Reply, DriveError> {
        let deadline = Instant::now() + spec.timeout;
        let hard = deadline + GRACE;
        // `seen.waited` (time the person took to answer) moves both limits.
        let mut seen = Seen {
            delivered: spec.already_delivered,
            ..Seen::default()
        };
        let mut attempt = 0u32;
        loop {
            let conn = tokio::select! {
                biased;
                _ = control.abandon.cancelled() => return Err(DriveError::Abandoned),
                // Nothing reached the agent yet: nothing to interrupt.
                _ = control.cancel.cancelled(), if !seen.delivered => return Err(DriveError::Cancelled),
                _ = tokio::time::sleep_until(hard + seen.waited) => return Err(DriveError::Timeout),
                c = self.link.get(self.wait) => match c {
                    Ok(c) => c,
                    Err(_) if control.cancel.is_cancelled() => return Err(DriveError::Cancelled),
                    Err(e) => return Err(DriveError::HostUnreachable(e)),
                },
            };
            let left = (deadline + seen.waited).saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DriveError::Timeout);
            }
            let args = TurnArgs {
                turn_id: spec.turn_id,
                user_id: spec.user_id,
                session: spec.session.to_string(),
                message: spec.message.as_str().to_owned(),
                timeout_ms: (left.as_millis() as u64).max(1),
                conversation: Some(spec.conversation.id),
                continues: spec.conversation.continues,
                uploads: super::ssh_uploads::wire(spec),
                statuses: true,
                steps: true,
            };
            if !seen.delivered {
                match super::ssh_uploads::send(&conn, spec).await {
                    Ok(()) => {}
                    Err(super::ssh_uploads::SendError::Closed) => continue,
                    Err(super::ssh_uploads::SendError::Failed(e)) => return Err(e),
                }
            }
            let op = if seen.delivered {
                Op::Takeover(args)
            } else {
                Op::Run(args)
            };
            attempt += 1;
            if attempt > 1 {
                tracing::info!(
                    attempt,
                    delivered = seen.delivered,
                    "resuming the turn on a new connection"
                );
            }
            let t = Turn {
                spec,
                progress,
                control,
                hard,
            };
            let outcome = self.pump(&conn, op, &t, &mut seen).await;
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }

    async fn reset(&self, _user: uuid::Uuid, session: &SessionName) -> Result<(), DriveError> {
        let deadline = Instant::now() + self.wait + RESET_LIMIT;
        loop {
            let conn = self
                .link
                .get(self.wait)
                .await
                .map_err(DriveError::HostUnreachable)?;
            let left = deadline.saturating_duration_since(Instant::now());
            let op = Op::Reset {
                session: session.to_string(),
            };
            match conn.call(op, left).await {
                Ok(Body::Ok { .. }) => return Ok(()),
                Ok(Body::Error {
                    code,
                    message,
                    text,
                }) => return Err(proto::drive_error(code, message, text)),
                Ok(other) => {
                    return Err(DriveError::Upstream(format!("unexpected answer {other:?}")));
                }
                // Reset is idempotent: try again on the next connection.
                Err(CallError::Closed(_)) if Instant::now() < deadline => continue,
                Err(e) => return Err(DriveError::HostUnreachable(e.to_string())),
            }
        }
    }

    async fn settle(&self, _user: uuid::Uuid, turn_id: uuid::Uuid) {
        let settled = match self.link.get(self.wait).await {
            Ok(conn) => conn
                .call(Op::Settle { turn_id }, RESET_LIMIT)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        if let Err(e) = settled {
            tracing::info!(error = %e, "cannot settle the turn's files on the host; they are pruned later");
        }
    }

    async fn purge_uploads(&self, _user: uuid::Uuid, turns: &[uuid::Uuid]) -> Result<(), String> {
        let conn = self.link.get(self.wait).await?;
        super::ssh_uploads::purge(&conn, turns).await
    }

    async fn transcript(
        &self,
        _user: uuid::Uuid,
        op: crate::transcript_store::TranscriptOp,
    ) -> Result<crate::transcript_store::TranscriptAnswer, DriveError> {
        let conn = self
            .link
            .get(self.wait)
            .await
            .map_err(DriveError::HostUnreachable)?;
        crate::transcript_store::sync::over_wire(&conn, op).await
    }

    fn reachability(&self) -> Result<(), String> {
        self.link.reachability()
    }

    /// One `agents` request: the host agent lists its live conversation windows. `None` when
    /// the host is not reachable now, or its host agent is too old to know `agents`.
    async fn live_conversations(&self) -> Option<crate::contract::LiveAgents> {
        // A host that is down is not waited for.
        self.link.reachability().ok()?;
        let conn = self.link.get(AGENTS_WAIT).await.ok()?;
        match conn.call(Op::Agents, AGENTS_LIMIT).await {
            // A host is not trusted: only valid conversation windows, at most MAX_AGENTS.
            Ok(Body::Agents { windows, max }) => Some(crate::contract::LiveAgents {
                windows: windows
                    .iter()
                    .filter_map(|w| SessionName::parse(w).ok())
                    .filter(|w| w.conversation().is_some())
                    .take(MAX_AGENTS)
                    .collect(),
                max: max
                    .filter(|m| *m > 0 && *m <= crate::tmux::capacity::MAX_LIMIT)
                    .map(|m| m as usize),
            }),
            Ok(other) => {
                tracing::debug!(answer = ?other, "the host agent did not list its agents");
                None
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot list the host's agents");
                None
            }
        }
    }

    /// One `pane` request: the host agent reads its pane as the local driver does. A host
    /// agent too old to know `pane` says `unknown_op`, reported as such.
    async fn pane(
        &self,
        _user: uuid::Uuid,
        session: &SessionName,
    ) -> Result<crate::tmux::pane_view::PaneView, DriveError> {
        let conn = self
            .link
            .get(self.wait)
            .await
            .map_err(DriveError::HostUnreachable)?;
        let op = Op::Pane {
            session: session.to_string(),
        };
        match conn.call(op, PANE_LIMIT).await {
            Ok(Body::Pane { mut view }) => {
                // A host is not trusted: its screen is bounded like a local one.
                view.screen = crate::tmux::pane_view::bounded(view.screen);
                Ok(view)
            }
            Ok(Body::Error {
                code: WireCode::UnknownOp,
                ..
            }) => Err(DriveError::Upstream(
                "the host agent is too old to show its terminal (update paliadin-shim)".into(),
            )),
            Ok(Body::Error {
                code,
                message,
                text,
            }) => Err(proto::drive_error(code, message, text)),
            Ok(other) => Err(DriveError::Upstream(format!("unexpected answer {other:?}"))),
            Err(e) => Err(DriveError::HostUnreachable(e.to_string())),
        }
    }
}

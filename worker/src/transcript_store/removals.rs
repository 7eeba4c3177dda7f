//! A forgotten conversation's transcript file leaves every host that ran it: the API's
//! `DELETE /api/paliadin/conversations/{id}` drops the stored transcript and queues one
//! removal per host (`transcript_removals`); on every poll tick the worker serving a host
//! carries out its removals through the host's driver (the file, and the agent still holding
//! the conversation is stopped) and dequeues them. An unreachable host keeps its removals for
//! a later tick; a host that cannot do it at all (an old host agent, an owner without an
//! account) is logged and dequeued.

use super::TranscriptOp;
use crate::driver::DriveError;
use crate::runtime::Ctx;
use paliadin_shared::db::transcripts;
use paliadin_shared::{HostName, SessionName};

/// Most removals carried out per tick.
const BATCH: i64 = 50;

/// Carries out the queued removals of `hosts`.
pub async fn run<'a>(ctx: &Ctx, hosts: impl Iterator<Item = &'a HostName>) {
    let names: Vec<String> = hosts.map(|h| h.to_string()).collect();
    let queued = match transcripts::removals(&ctx.pool, &names, BATCH).await {
        Ok(q) => q,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the queued transcript removals");
            return;
        }
    };
    for r in queued {
        let Ok(driver) = ctx.driver(&r.host) else {
            continue;
        };
        let session = match transcripts::session_on(&ctx.pool, r.user_id, r.host.as_str()).await {
            Ok(Some(name)) => SessionName::parse(&name).ok(),
            Ok(None) => Some(SessionName::for_user(&ctx.prefix, r.user_id, 0)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the owner's session");
                continue;
            }
        };
        let op = TranscriptOp::Forget {
            conversation: r.session_id,
            session,
        };
        match driver.transcript(r.user_id, op).await {
            Ok(_) => tracing::info!(host = %r.host, conversation = %r.session_id,
                "a forgotten conversation's transcript removed from its host"),
            Err(e @ (DriveError::HostUnreachable(_) | DriveError::TmuxUnavailable(_))) => {
                tracing::info!(host = %r.host, error = %e, "cannot remove a transcript yet");
                continue;
            }
            Err(e) => tracing::warn!(host = %r.host, conversation = %r.session_id, error = %e,
                "cannot remove a forgotten conversation's transcript from its host; giving up"),
        }
        if let Err(e) = transcripts::removed(&ctx.pool, &r).await {
            tracing::warn!(error = %e, "cannot dequeue a transcript removal");
        }
    }
}

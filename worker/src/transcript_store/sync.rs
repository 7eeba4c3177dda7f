//! The worker's side of a stored transcript, between PostgreSQL
//! ([`paliadin_shared::db::transcripts`]) and a [`Driver`]:
//!
//! - [`copy`], after each finished turn: what the agent added to its file since the stored
//!   length is read from the host (whole lines, [`super::READ_MAX`] at a time) and appended as
//!   one chunk per read, until the file's end or `PALIADIN_TRANSCRIPT_MAX_BYTES`;
//! - [`restore`], before a turn whose conversation continues: when the host's file is missing
//!   or shorter than what is stored, the stored bytes are written back
//!   ([`super::WRITE_MAX`] per piece) before the agent is started to resume it;
//! - [`over_wire`]: the same operations through a host agent (`transcript` requests).
//!
//! Both are best effort for the turn: a failure is logged and the turn goes on (its agent then
//! remembers what its host has, as before transcripts were stored).

use super::{READ_MAX, TranscriptAnswer, TranscriptOp, WRITE_MAX};
use crate::driver::{DriveError, Driver};
use crate::host_agent::proto::{self, Body, Op, WireCode};
use crate::ssh::Conn;
use paliadin_shared::SessionName;
use paliadin_shared::db::transcripts::{self, Appended};
use sqlx::PgPool;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long one `transcript` request may take once connected (a 4 MiB read included).
const CALL_LIMIT: Duration = Duration::from_secs(30);
/// Chunks read from PostgreSQL at once during a restore.
const CHUNKS_AT_ONCE: i64 = 16;

/// One operation through a host agent's channel.
pub async fn over_wire(conn: &Conn, op: TranscriptOp) -> Result<TranscriptAnswer, DriveError> {
    match conn.call(Op::Transcript(op.to_wire()), CALL_LIMIT).await {
        Ok(Body::Transcript { size, data }) => {
            // A host is not trusted: its data is bounded like a local read.
            if data.len() as u64 > 2 * READ_MAX {
                return Err(DriveError::Upstream(
                    "the host agent sent an oversized transcript read".into(),
                ));
            }
            let data = hex::decode(&data).map_err(|e| {
                DriveError::Upstream(format!("the host agent's transcript data: {e}"))
            })?;
            Ok(TranscriptAnswer { size, data })
        }
        Ok(Body::Error {
            code: WireCode::UnknownOp,
            ..
        }) => Err(DriveError::Upstream(
            "the host agent is too old to keep transcripts (update paliadin-shim)".into(),
        )),
        Ok(Body::Error {
            code,
            message,
            text,
        }) => Err(proto::drive_error(code, message, text)),
        Ok(_) => Err(DriveError::Upstream(
            "the host agent answered a transcript request with something else".into(),
        )),
        Err(e) => Err(DriveError::HostUnreachable(e.to_string())),
    }
}

/// What a [`copy`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    /// Bytes appended now.
    pub bytes: u64,
    /// Bytes stored in all.
    pub stored: i64,
    /// The limit was reached: nothing more is copied for this conversation.
    pub capped: bool,
}

/// Appends what `user`'s agent added to the transcript of `conversation` on `driver`'s host.
pub async fn copy(
    pool: &PgPool,
    driver: &dyn Driver,
    user: Uuid,
    conversation: Uuid,
    max_bytes: u64,
) -> Result<Copied, String> {
    let stored = transcripts::stored(pool, user, conversation)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Copied {
        stored: stored.map_or(0, |s| s.bytes),
        capped: stored.is_some_and(|s| s.capped),
        bytes: 0,
    };
    if out.capped || max_bytes == 0 {
        return Ok(out);
    }
    // Every read but the last returns at least one byte short of the limit's worth.
    for _ in 0..=(max_bytes / READ_MAX + 1) {
        let op = TranscriptOp::Read {
            conversation,
            offset: out.stored as u64,
            max: READ_MAX,
        };
        let a = driver
            .transcript(user, op)
            .await
            .map_err(|e| e.to_string())?;
        if a.data.is_empty() {
            break;
        }
        let n = a.data.len() as u64;
        match transcripts::append(
            pool,
            user,
            conversation,
            out.stored,
            &a.data,
            max_bytes as i64,
        )
        .await
        .map_err(|e| e.to_string())?
        {
            Appended::Stored(total) => {
                out.stored = total;
                out.bytes += n;
            }
            // Another copy stored it first.
            Appended::Stale => break,
            Appended::Capped => {
                out.capped = true;
                break;
            }
        }
        if a.size.is_none_or(|size| out.stored as u64 >= size) {
            break;
        }
    }
    Ok(out)
}

/// What a [`restore`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restored {
    /// Nothing is stored for the conversation.
    NotStored,
    /// The host's file holds at least what is stored.
    Present,
    /// The stored bytes were written back.
    Written(u64),
}

/// Writes the stored transcript of `user`'s `conversation` back to `driver`'s host when its
/// file there is missing or shorter; an agent of `session` holding the conversation is
/// stopped then, so that it resumes from the restored file.
pub async fn restore(
    pool: &PgPool,
    driver: &dyn Driver,
    user: Uuid,
    session: &SessionName,
    conversation: Uuid,
) -> Result<Restored, String> {
    let stored = transcripts::stored(pool, user, conversation)
        .await
        .map_err(|e| e.to_string())?;
    let Some(target) = stored.map(|s| s.bytes as u64).filter(|b| *b > 0) else {
        return Ok(Restored::NotStored);
    };
    let here = driver
        .transcript(user, TranscriptOp::Stat { conversation })
        .await
        .map_err(|e| e.to_string())?;
    if here.size.is_some_and(|s| s >= target) {
        return Ok(Restored::Present);
    }
    let (mut written, mut seq) = (0u64, 0i32);
    while written < target {
        let chunks = transcripts::chunks(pool, user, conversation, seq, CHUNKS_AT_ONCE)
            .await
            .map_err(|e| e.to_string())?;
        if chunks.is_empty() {
            return Err(format!(
                "the stored chunks end at {written} of {target} bytes"
            ));
        }
        for (n, start, data) in chunks {
            seq = n + 1;
            if start as u64 != written {
                return Err(format!("stored chunk {n} starts at {start}, not {written}"));
            }
            for piece in data.chunks(WRITE_MAX) {
                let last = written + piece.len() as u64 >= target;
                let op = TranscriptOp::Write {
                    conversation,
                    offset: written,
                    data: piece.to_vec(),
                    last,
                    session: last.then(|| session.clone()),
                };
                driver
                    .transcript(user, op)
                    .await
                    .map_err(|e| e.to_string())?;
                written += piece.len() as u64;
                if last {
                    return Ok(Restored::Written(written));
                }
            }
        }
    }
    Ok(Restored::Written(written))
}

/// [`restore`] before a turn, logged; never fails the turn.
pub async fn before_turn(
    pool: &PgPool,
    driver: &dyn Driver,
    user: Uuid,
    session: &SessionName,
    conversation: Uuid,
) {
    let started = Instant::now();
    match restore(pool, driver, user, session, conversation).await {
        Ok(Restored::Written(bytes)) => tracing::info!(
            %conversation,
            bytes,
            ms = started.elapsed().as_millis() as u64,
            "transcript restored from the database before the agent resumes"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(%conversation, error = %e,
            "cannot restore the conversation's transcript; the agent resumes what its host has"),
    }
}

/// [`copy`] after a turn, logged; never fails the turn.
pub async fn after_turn(
    pool: &PgPool,
    driver: &dyn Driver,
    user: Uuid,
    conversation: Uuid,
    max_bytes: u64,
) {
    let started = Instant::now();
    match copy(pool, driver, user, conversation, max_bytes).await {
        Ok(c) if c.bytes > 0 || c.capped => tracing::info!(
            %conversation,
            bytes = c.bytes,
            stored = c.stored,
            capped = c.capped,
            ms = started.elapsed().as_millis() as u64,
            "transcript copied"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(%conversation, error = %e,
            "cannot copy the conversation's transcript; the next turn copies it"),
    }
}

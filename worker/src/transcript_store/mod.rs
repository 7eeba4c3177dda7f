//! The agent's transcript moves with its conversation (issue 21, `docs/operations.md`,
//! "Transcripts"): after each finished turn the worker appends what the agent added to its
//! transcript file to PostgreSQL; before an agent resumes a conversation on a host whose file is
//! missing or behind (a failover to another host, a wiped or replaced home, another workdir),
//! the worker writes it back, so that the resume sees the whole earlier conversation.
//!
//! Layout:
//! - [`file`]: the host's side: which file holds a conversation's transcript (Claude Code's
//!   `<config>/projects/<slug>/<id>.jsonl`, the demo agent's `<state>/<id>.jsonl`) and the four
//!   operations on it — size, read a tail, write back, forget — run by the local driver in
//!   process and by the host agent (`paliadin-shim serve`) for SSH and `accounts://` hosts, as
//!   the owner's account: the worker itself never opens a file in an owner's home;
//! - [`sync`]: the worker's side, between PostgreSQL and a [`crate::driver::Driver`];
//! - [`removals`]: a forgotten conversation's file leaves every host that ran it.
//!
//! Files are named by the conversation's UUID only: no path crosses the wire, so a worker
//! cannot make a host agent read or write anything but a transcript of its own agents.

pub mod file;
pub mod removals;
pub mod sync;

use crate::host_agent::proto::WireTranscript;
use paliadin_shared::SessionName;
use uuid::Uuid;

/// Most bytes one read returns (the host-agent wire carries them hex-encoded, within its
/// 16 MiB response line).
pub const READ_MAX: u64 = 4 * 1024 * 1024;
/// Most bytes one write carries (hex-encoded within the host agent's 256 KiB request line).
pub const WRITE_MAX: usize = 96 * 1024;
/// The default of `PALIADIN_TRANSCRIPT_MAX_BYTES`.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// The largest `PALIADIN_TRANSCRIPT_MAX_BYTES` accepted.
pub const MAX_MAX_BYTES: u64 = 1024 * 1024 * 1024;

/// One operation on a conversation's transcript file on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranscriptOp {
    /// The file's size (None: no file, or an agent whose transcript Paliadin cannot name).
    Stat { conversation: Uuid },
    /// At most `max` bytes from `offset`, cut after the last complete line.
    Read {
        conversation: Uuid,
        offset: u64,
        max: u64,
    },
    /// Part of a write-back: bytes at `offset` of a new copy; `last` puts it in place (only
    /// where no longer file appeared meanwhile), after stopping the agent in `session` when it
    /// holds the conversation (it resumes from the restored file).
    Write {
        conversation: Uuid,
        offset: u64,
        data: Vec<u8>,
        last: bool,
        session: Option<SessionName>,
    },
    /// Removes the file, and stops the agent in `session` when it holds the conversation.
    Forget {
        conversation: Uuid,
        session: Option<SessionName>,
    },
}

/// What a [`TranscriptOp`] answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TranscriptAnswer {
    /// The file's size after the operation (None: there is none).
    pub size: Option<u64>,
    /// What a read returned.
    pub data: Vec<u8>,
}

impl TranscriptOp {
    /// The conversation the operation is about.
    pub fn conversation(&self) -> Uuid {
        match self {
            TranscriptOp::Stat { conversation }
            | TranscriptOp::Read { conversation, .. }
            | TranscriptOp::Write { conversation, .. }
            | TranscriptOp::Forget { conversation, .. } => *conversation,
        }
    }

    /// As the host-agent wire carries it (`transcript` requests, `docs/hosts.md`).
    pub fn to_wire(&self) -> WireTranscript {
        let mut w = WireTranscript {
            conversation: self.conversation(),
            action: String::new(),
            offset: 0,
            max: 0,
            data: String::new(),
            last: false,
            session: None,
        };
        match self {
            TranscriptOp::Stat { .. } => w.action = "stat".into(),
            TranscriptOp::Read { offset, max, .. } => {
                (w.action, w.offset, w.max) = ("read".into(), *offset, *max);
            }
            TranscriptOp::Write {
                offset,
                data,
                last,
                session,
                ..
            } => {
                (w.action, w.offset, w.last) = ("write".into(), *offset, *last);
                w.data = hex::encode(data);
                w.session = session.as_ref().map(|s| s.to_string());
            }
            TranscriptOp::Forget { session, .. } => {
                w.action = "forget".into();
                w.session = session.as_ref().map(|s| s.to_string());
            }
        }
        w
    }

    /// Back from the wire, checked: a known action, a bounded read and write. `session` is the
    /// request's session, already checked by the host agent.
    pub fn from_wire(w: WireTranscript, session: Option<SessionName>) -> Result<Self, String> {
        let conversation = w.conversation;
        match w.action.as_str() {
            "stat" => Ok(TranscriptOp::Stat { conversation }),
            "read" if w.max == 0 || w.max > READ_MAX => {
                Err(format!("a transcript read's max must be in 1..={READ_MAX}"))
            }
            "read" => Ok(TranscriptOp::Read {
                conversation,
                offset: w.offset,
                max: w.max,
            }),
            "write" => {
                let data = hex::decode(&w.data).map_err(|e| format!("transcript data: {e}"))?;
                if data.len() > WRITE_MAX {
                    return Err(format!(
                        "a transcript piece holds at most {WRITE_MAX} bytes"
                    ));
                }
                Ok(TranscriptOp::Write {
                    conversation,
                    offset: w.offset,
                    data,
                    last: w.last,
                    session,
                })
            }
            "forget" => Ok(TranscriptOp::Forget {
                conversation,
                session,
            }),
            other => Err(format!(
                "unknown transcript action {other:?}; known: stat, read, write, forget"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_survive_the_wire_and_bad_ones_are_refused() {
        let id = Uuid::new_v4();
        let s = SessionName::parse("paliadin-0123abcd").unwrap();
        for op in [
            TranscriptOp::Stat { conversation: id },
            TranscriptOp::Read {
                conversation: id,
                offset: 7,
                max: READ_MAX,
            },
            TranscriptOp::Write {
                conversation: id,
                offset: 3,
                data: b"{\"a\":1}\n".to_vec(),
                last: true,
                session: Some(s.clone()),
            },
            TranscriptOp::Forget {
                conversation: id,
                session: Some(s.clone()),
            },
        ] {
            let w = op.to_wire();
            let json = serde_json::to_string(&w).unwrap();
            let back: WireTranscript = serde_json::from_str(&json).unwrap();
            let session = back
                .session
                .as_deref()
                .map(|n| SessionName::parse(n).unwrap());
            assert_eq!(TranscriptOp::from_wire(back, session).unwrap(), op);
        }
        let mut w = TranscriptOp::Stat { conversation: id }.to_wire();
        w.action = "read".into();
        w.max = READ_MAX + 1;
        assert!(TranscriptOp::from_wire(w.clone(), None).is_err());
        w.action = "delete_everything".into();
        assert!(TranscriptOp::from_wire(w.clone(), None).is_err());
        w.action = "write".into();
        w.data = "zz".into();
        assert!(TranscriptOp::from_wire(w.clone(), None).is_err());
        w.data = hex::encode(vec![0u8; WRITE_MAX + 1]);
        assert!(TranscriptOp::from_wire(w, None).is_err());
    }
}

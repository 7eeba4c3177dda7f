//! The host agent's wire protocol (version [`PROTOCOL`]): JSON lines, one object per line, UTF-8.
//!
//! The host agent speaks first: a [`Body::Hello`] line (no id). Then the worker sends [`Request`]s,
//! each with an `id` it chose (unique per connection), and the host agent answers with [`Response`]s
//! carrying that id, so many turns multiplex on one channel. A `run`/`takeover` request gets
//! any number of pushed `delivered` / `content` / `activity` / `permission` / `waiting` lines
//! (and `retrying` / `compacting` when it asked for `statuses`) and then exactly one final
//! `reply` or `error`; every other request gets exactly one `ok` or `error`. A line the host agent
//! cannot attribute to a request (malformed JSON, no id) is answered with `"id": null`.
//! The normative description is `docs/hosts.md` ("Protocol").

pub use super::code::{WireCode, drive_error};
use crate::driver::DriveError;
use paliadin_shared::domain::permission::{PermissionAnswer, PermissionAsk};
use paliadin_shared::domain::trailer::Trailer;
use paliadin_shared::events::ErrorCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Bumped on any incompatible change; the worker refuses a host agent that speaks another version.
/// 3: a session may name a conversation's window (`<session>:c-<hex>`), which a host agent of
/// version 2 refuses as an invalid name.
pub const PROTOCOL: u32 = 3;
/// The longest request line the host agent accepts (a 32 KiB message is at most ~64 KiB as JSON).
pub const MAX_REQUEST_LINE: usize = 256 * 1024;
/// The longest response line the worker accepts: a reply of `PALIADIN_MAX_REPLY_BYTES`
/// (default 4 MiB) as JSON, with room for escaping.
pub const MAX_RESPONSE_LINE: usize = 16 * 1024 * 1024;
/// The operations a host agent knows, as spelled on the wire.
pub const OPS: [&str; 15] = [
    "ping",
    "health",
    "run",
    "takeover",
    "cancel",
    "abandon",
    "settle",
    "reset",
    "capture",
    "decide",
    "pane",
    "upload",
    "purge_uploads",
    "transcript",
    "agents",
];

/// Worker → host agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    #[serde(flatten)]
    pub op: Op,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Answered at once with `ok`: the keep-alive and the latency probe.
    Ping,
    /// `ok` with [`Health`]: can tmux run; optionally, the state of one session.
    Health {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<String>,
    },
    /// Run a turn: paste the envelope (unless the host already holds a receipt for this turn,
    /// then only watch), push progress, end with `reply` or `error`.
    Run(TurnArgs),
    /// Watch a turn another attempt already delivered: never paste.
    Takeover(TurnArgs),
    /// Interrupt a running turn (Escape); its request ends with `error` code `cancelled`.
    Cancel { turn_id: Uuid },
    /// Stop watching a running turn and leave the agent alone (once it is delivered); its
    /// request ends with `error` code `abandoned`.
    Abandon { turn_id: Uuid },
    /// The worker committed the turn's result: move its files to `done/` (`ok`).
    Settle { turn_id: Uuid },
    /// Kill the session; the next turn starts a fresh agent.
    Reset { session: String },
    /// `ok` with `screen`: the visible text of the session's pane (diagnostics).
    Capture { session: String },
    /// `pane`: what the session's pane shows, with colours, its size and cursor, for the live
    /// terminal view. Only reads; a host agent without it answers `unknown_op`.
    Pane { session: String },
    /// One piece of a file sent with turn `turn_id`, before its `run`: `data` (base64, at most
    /// 96 KiB decoded) goes at `offset` of `uploads/<turn_id>/<name>` in the agent's working
    /// directory (0 starts the file afresh; `last` moves it into place, mode 0600). `ok`, or
    /// `bad_request`. A host agent without it answers `unknown_op`.
    Upload {
        turn_id: Uuid,
        name: String,
        offset: u64,
        data: String,
        #[serde(default)]
        last: bool,
    },
    /// Remove the files sent with these turns (`uploads/<turn id>/`): their rows are gone.
    PurgeUploads { turn_ids: Vec<Uuid> },
    /// One operation on the transcript file of a conversation (`crate::transcript_store`),
    /// answered `transcript`; a host agent without it answers `unknown_op`.
    Transcript(WireTranscript),
    /// `agents`: the live agent windows of conversations on the host's tmux server (this host
    /// agent's sessions only), for the conversations list's `idle` / `stopped`. Only reads; a
    /// host agent without it answers `unknown_op`.
    Agents,
    /// The answer to a running turn's pushed `permission` request `n` (`ok`; `unknown_turn`
    /// when no such request waits here).
    Decide {
        turn_id: Uuid,
        n: u32,
        answer: PermissionAnswer,
    },
}

/// The turn a `run` or `takeover` is about.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TurnArgs {
    pub turn_id: Uuid,
    pub user_id: Uuid,
    pub session: String,
    pub message: String,
    /// The time left for the turn; the host agent interrupts the agent when it passes.
    pub timeout_ms: u64,
    /// The turn's conversation (absent from an older worker: the user's id stands in, so its
    /// agent is never switched away).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Uuid>,
    /// An earlier turn of the conversation reached an agent: resume it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continues: bool,
    /// The files sent with the message, already written by `upload` requests: the envelope
    /// names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uploads: Vec<WireUpload>,
    /// The worker reads the pushed `retrying` and `compacting` lines: only then does the host agent
    /// send them (an older worker, which never sets it, would fail on a type it does not know;
    /// an older host agent ignores the field and sends none).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub statuses: bool,
    /// The worker reads pushed `step` lines (the work log, `crate::worklog`): only then does
    /// the host agent follow the agent's transcript and send them (compatible both ways, as
    /// `statuses`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub steps: bool,
}

/// A `transcript` request: `action` is `stat`, `read` (`offset`, `max`), `write` (`offset`,
/// `data` in hex, at most `crate::transcript_store::WRITE_MAX` bytes, `last`, `session`) or
/// `forget` (`session`). The host agent derives the file from its own settings and the
/// conversation's UUID: no path crosses the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireTranscript {
    pub conversation: Uuid,
    pub action: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offset: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub data: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub last: bool,
    /// The owner's session: its agent is stopped when it holds the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A file of a turn as the envelope names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireUpload {
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

/// A `reply`'s `agent`: a word this worker does not know (a newer or hostile host agent) is
/// read as none rather than refusing the reply.
fn any_agent<'de, D>(d: D) -> Result<Option<paliadin_shared::domain::AgentKind>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let word = Option::<String>::deserialize(d)?;
    Ok(word
        .as_deref()
        .and_then(paliadin_shared::domain::AgentKind::parse))
}

/// Host agent → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: Option<u64>,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    /// The first line of every connection.
    Hello {
        protocol: u32,
        server: String,
        max_line: usize,
    },
    Ok {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        health: Option<Health>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        screen: Option<String>,
    },
    Delivered,
    Content {
        delta: String,
    },
    Activity {
        text: String,
    },
    /// The agent shows a question in its terminal that no hook reported (pushed).
    Waiting {
        screen: String,
    },
    /// The agent retries its model's API by itself: `attempt` of `of` failed, the next in
    /// `next_in` seconds (pushed, only when the `run` asked for `statuses`).
    Retrying {
        attempt: u32,
        of: u32,
        next_in: u64,
    },
    /// The agent compacts its conversation (`done: false`) or has finished; `trigger` is
    /// `auto`, `manual` or `unknown` (pushed, only when the `run` asked for `statuses`).
    Compacting {
        done: bool,
        trigger: String,
    },
    /// One step of the turn's work log (pushed, only when the `run` asked for `steps`).
    Step {
        #[serde(flatten)]
        step: crate::worklog::step::Step,
    },
    /// The agent asks the person (pushed; the worker answers with a `decide` request).
    Permission {
        n: u32,
        ask: PermissionAsk,
    },
    /// The answer to `transcript`: the file's size after the operation (absent: no file) and
    /// what a `read` returned, in hex.
    Transcript {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        data: String,
    },
    /// The answer to `agents`: each live window as `<session>:c-<32 hex of its conversation>`,
    /// and the host agent's live-agent limit (`PALIADIN_MAX_LIVE_AGENTS` as applied; absent:
    /// none).
    Agents {
        windows: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u64>,
    },
    /// The answer to `pane`.
    Pane {
        #[serde(flatten)]
        view: crate::tmux::pane_view::PaneView,
    },
    Reply {
        text: String,
        trailer: Trailer,
        /// What the model spent, read from the agent's transcript on this host (tokens only:
        /// the worker prices them). Absent from older host agents.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        usage: Vec<paliadin_shared::domain::usage::TurnUsage>,
        /// The host agent's `PALIADIN_AGENT` (`claude`, `codex`, `demo`, `other`): which agent
        /// answered. Absent from older host agents; an unknown word is ignored.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "any_agent"
        )]
        agent: Option<paliadin_shared::domain::AgentKind>,
    },
    Error {
        code: WireCode,
        message: String,
        /// `invalid_reply`: the reply's text without its bad trailer; `session_lost`: the last
        /// lines of an agent that exited as it started.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
}

/// What `health` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// `tmux -V` output, or why tmux cannot run.
    pub tmux: String,
    pub tmux_ok: bool,
    /// `alive`, `dead` or `missing`, when a session was asked about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Turns this host agent process is running.
    pub turns: usize,
}

impl Body {
    pub fn ok() -> Body {
        Body::Ok {
            health: None,
            screen: None,
        }
    }

    pub fn error(code: impl Into<WireCode>, message: impl Into<String>) -> Body {
        Body::Error {
            code: code.into(),
            message: message.into(),
            text: None,
        }
    }

    /// Whether this ends its request (every body but pushed progress).
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Body::Delivered
                | Body::Content { .. }
                | Body::Activity { .. }
                | Body::Permission { .. }
                | Body::Waiting { .. }
                | Body::Retrying { .. }
                | Body::Compacting { .. }
                | Body::Step { .. }
        )
    }

    /// The final body for a turn's outcome.
    pub fn of_outcome(
        outcome: Result<paliadin_shared::domain::trailer::Reply, DriveError>,
    ) -> Body {
        match outcome {
            Ok(r) => Body::Reply {
                text: r.text,
                trailer: r.trailer,
                usage: r.usage,
                agent: r.agent,
            },
            Err(DriveError::InvalidReply(e)) => Body::Error {
                code: ErrorCode::InvalidReply.into(),
                message: e.reason,
                text: Some(e.text),
            },
            // The kind rides in `text` (an optional field every version reads), the agent's
            // words in `message`.
            Err(DriveError::Agent(f)) => Body::Error {
                code: ErrorCode::AgentError.into(),
                message: f.message,
                text: Some(f.kind),
            },
            Err(e) => Body::Error {
                code: e.code().into(),
                message: e.to_string(),
                text: e.wire_text().map(str::to_owned),
            },
        }
    }
}

/// Serialises a response as one line (with its `\n`).
pub fn line(r: &Response) -> String {
    let mut s = serde_json::to_string(r).expect("responses serialise");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use paliadin_shared::domain::agent_failure::AgentFailure;

    #[test]
    fn requests_and_responses_have_the_documented_shape() {
        let r = Request {
            id: 7,
            op: Op::Cancel {
                turn_id: Uuid::nil(),
            },
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"id":7,"op":"cancel","turn_id":"00000000-0000-0000-0000-000000000000"}"#
        );
        let back: Request = serde_json::from_str(r#"{"op":"ping","id":3}"#).unwrap();
        assert!(matches!(back.op, Op::Ping));
        let resp = Response {
            id: Some(3),
            body: Body::Content {
                delta: "hé".into()
            },
        };
        assert_eq!(
            line(&resp),
            "{\"id\":3,\"type\":\"content\",\"delta\":\"hé\"}\n"
        );
        let d: Response = serde_json::from_str(r#"{"id":3,"type":"delivered"}"#).unwrap();
        assert_eq!(d.body, Body::Delivered);
        assert!(!d.body.is_final());
        let r: Response =
            serde_json::from_str(r#"{"id":3,"type":"retrying","attempt":1,"of":10,"next_in":2}"#)
                .unwrap();
        assert!(!r.body.is_final());
        let c = Response {
            id: Some(3),
            body: Body::Compacting {
                done: false,
                trigger: "auto".into(),
            },
        };
        assert_eq!(
            line(&c),
            "{\"id\":3,\"type\":\"compacting\",\"done\":false,\"trigger\":\"auto\"}\n"
        );
        assert!(!c.body.is_final());
    }

    #[test]
    fn drive_errors_survive_the_wire() {
        for e in [
            DriveError::Timeout,
            DriveError::SessionLost("x".into()),
            DriveError::TmuxUnavailable("y".into()),
            DriveError::Agent(AgentFailure::new("overloaded", "Overloaded")),
        ] {
            let Body::Error {
                code,
                message,
                text,
            } = Body::of_outcome(Err(e))
            else {
                panic!("not an error")
            };
            let back = drive_error(code.clone(), message, text);
            assert_eq!(WireCode::Drive(back.code()), code);
            if let DriveError::Agent(f) = &back {
                assert_eq!(
                    (f.kind.as_str(), f.message.as_str()),
                    ("overloaded", "Overloaded")
                );
            }
        }
        let e = drive_error(WireCode::BadRequest, "no".into(), None);
        assert!(matches!(e, DriveError::Upstream(_)));
    }
}

//! The `code` of the host agent protocol's `error` lines: one vocabulary with the worker's
//! ([`DriveCode`], which holds the ⚑ error codes) plus the protocol's own errors.

use crate::driver::{DriveCode, DriveError};
use paliadin_shared::events::ErrorCode;
use serde::{Deserialize, Serialize};

/// The `code` of an `error` line: how a turn ended ([`DriveCode`], which holds the ⚑ codes),
/// or a protocol error. On the wire, a plain string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum WireCode {
    Drive(DriveCode),
    /// The request is malformed or invalid.
    BadRequest,
    /// A request line exceeds the limit.
    TooLarge,
    UnknownOp,
    /// `cancel`/`abandon` of a turn this host agent does not run.
    UnknownTurn,
    /// The turn is already running here, or too many turns are.
    Busy,
    /// A code this side does not know (a newer peer).
    Other(String),
}

impl WireCode {
    pub fn as_str(&self) -> &str {
        match self {
            WireCode::Drive(c) => c.as_str(),
            WireCode::BadRequest => "bad_request",
            WireCode::TooLarge => "too_large",
            WireCode::UnknownOp => "unknown_op",
            WireCode::UnknownTurn => "unknown_turn",
            WireCode::Busy => "busy",
            WireCode::Other(s) => s,
        }
    }
}

impl From<String> for WireCode {
    fn from(s: String) -> WireCode {
        if let Some(c) = DriveCode::parse(&s) {
            return WireCode::Drive(c);
        }
        let protocol = [
            WireCode::BadRequest,
            WireCode::TooLarge,
            WireCode::UnknownOp,
            WireCode::UnknownTurn,
            WireCode::Busy,
        ];
        protocol
            .into_iter()
            .find(|c| c.as_str() == s)
            .unwrap_or(WireCode::Other(s))
    }
}

impl From<WireCode> for String {
    fn from(c: WireCode) -> String {
        c.as_str().to_owned()
    }
}

impl From<DriveCode> for WireCode {
    fn from(c: DriveCode) -> WireCode {
        WireCode::Drive(c)
    }
}

impl From<ErrorCode> for WireCode {
    fn from(c: ErrorCode) -> WireCode {
        WireCode::Drive(DriveCode::Failed(c))
    }
}

/// Back from the wire: an `error` body as the worker's [`DriveError`]. Protocol-level codes
/// (`bad_request`, `busy`, …) mean a bug or a mismatch on one side: `Upstream`.
pub fn drive_error(code: WireCode, message: String, text: Option<String>) -> DriveError {
    match code {
        WireCode::Drive(c) => DriveError::from_code(c, message, text),
        other => DriveError::Upstream(format!("host agent: {}: {message}", other.as_str())),
    }
}

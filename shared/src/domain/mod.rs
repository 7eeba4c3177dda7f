//! Domain newtypes that validate once at the edge.

pub mod agent;
pub mod agent_failure;
mod envelope;
mod host;
mod message;
pub mod permission;
mod session;
pub mod trailer;
mod turn;
pub mod upload;
pub mod usage;

pub use agent::AgentKind;
pub use envelope::Envelope;
pub use host::HostName;
pub use message::{MAX_MESSAGE_BYTES, MessageError, UserMessage};
pub use session::{SessionName, SessionPrefix, WINDOW_PREFIX};
pub use turn::{TurnKind, TurnState};

/// Why a domain value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidValue(pub String);

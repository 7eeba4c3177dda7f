//! A turn's state and kind, as stored in `turns.state` / `turns.kind` (text columns with CHECK
//! constraints) and sent in JSON: parsed once where a row is read, compared as enums after.

use serde::{Deserialize, Serialize};
use std::fmt;

/// `turns.state`: `queued → running → succeeded | failed | cancelled`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum TurnState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl TurnState {
    pub const ALL: [TurnState; 5] = [
        TurnState::Queued,
        TurnState::Running,
        TurnState::Succeeded,
        TurnState::Failed,
        TurnState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TurnState::Queued => "queued",
            TurnState::Running => "running",
            TurnState::Succeeded => "succeeded",
            TurnState::Failed => "failed",
            TurnState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<TurnState> {
        TurnState::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// A finished state (`finished_at` is set).
    pub fn is_finished(self) -> bool {
        match self {
            TurnState::Queued | TurnState::Running => false,
            TurnState::Succeeded | TurnState::Failed | TurnState::Cancelled => true,
        }
    }
}

impl fmt::Display for TurnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `turns.kind`: a user's message, or a reset of their agent session.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum TurnKind {
    Message,
    Reset,
}

impl TurnKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TurnKind::Message => "message",
            TurnKind::Reset => "reset",
        }
    }
}

impl fmt::Display for TurnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

//! Which agent answered a turn (`turns.agent`, the `end` event's and the history's `agent`):
//! the worker's or host agent's `PALIADIN_AGENT` (`docs/agents.md`), stored as a lowercase word.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of agent that answered a turn.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum AgentKind {
    Claude,
    Codex,
    Demo,
    /// Any other program (`PALIADIN_AGENT=other`).
    Other,
}

impl AgentKind {
    pub const ALL: [AgentKind; 4] = [
        AgentKind::Claude,
        AgentKind::Codex,
        AgentKind::Demo,
        AgentKind::Other,
    ];

    /// The stored and sent word.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::Claude => "claude",
            AgentKind::Codex => "codex",
            AgentKind::Demo => "demo",
            AgentKind::Other => "other",
        }
    }

    /// The word back; None for anything else (a host agent's unknown word is dropped).
    pub fn parse(s: &str) -> Option<AgentKind> {
        AgentKind::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// What a person reads (the page shows the same names).
    pub fn label(self) -> &'static str {
        match self {
            AgentKind::Claude => "Claude Code",
            AgentKind::Codex => "Codex",
            AgentKind::Demo => "demo agent",
            AgentKind::Other => "another agent",
        }
    }
}

impl fmt::Display for AgentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_back_and_nothing_else_does() {
        for a in AgentKind::ALL {
            assert_eq!(AgentKind::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        for bad in ["", "Claude", "gpt", "codex "] {
            assert_eq!(AgentKind::parse(bad), None, "{bad:?}");
        }
    }
}

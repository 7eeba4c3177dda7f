//! What the model spent on a turn: tokens by kind, the model that answered, and a cost once the
//! worker has priced it (`docs/claude-code.md`, "Usage of every turn").

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The tokens of one turn (summed over the model requests that belong to it) and the model of
/// its last request. Every count is at most [`MAX_TOKENS`]: the transcript they come from is
/// the agent's, and a count beyond it is refused, not stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub model: String,
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_creation: i64,
    /// The prompt of the turn's last request (input + cache read + cache creation tokens): how
    /// much of the model's context window the conversation fills.
    #[serde(default)]
    pub context: i64,
    /// The cost in US dollars from the worker's price table; absent for a model it lacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The model's context window in tokens (price table, else the documented default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<i64>,
}

/// The usage of one turn, named by its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnUsage {
    pub turn_id: Uuid,
    #[serde(flatten)]
    pub usage: Usage,
}

/// The most tokens of one kind a turn may count (a sanity bound, far above any model's).
pub const MAX_TOKENS: i64 = 1 << 40;

/// Most characters of a model name that are kept.
pub const MAX_MODEL_CHARS: usize = 100;

impl Usage {
    /// All tokens of every kind.
    pub fn total(&self) -> i64 {
        self.input + self.output + self.cache_read + self.cache_creation
    }

    /// Whether the counts are in range and the model name short and printable.
    pub fn is_valid(&self) -> bool {
        let counts = [
            self.input,
            self.output,
            self.cache_read,
            self.cache_creation,
            self.context,
        ];
        counts.iter().all(|n| (0..=MAX_TOKENS).contains(n))
            && self.model.chars().count() <= MAX_MODEL_CHARS
            && self
                .model
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:/@[]".contains(c))
    }
}

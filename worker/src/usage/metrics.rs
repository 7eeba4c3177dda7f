//! `paliadin_agent_tokens_total{kind, model}`: the model's tokens of the turns this worker
//! finished, by kind (`input`, `output`, `cache_read`, `cache_creation`) and model, as read when
//! each turn's reply came in (`docs/operations.md`, "Usage and cost").

use paliadin_shared::domain::usage::Usage;
use prometheus::{IntCounterVec, Opts};
use std::sync::LazyLock;

/// The counter (one per process; the worker's registry exports it).
pub static TOKENS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    IntCounterVec::new(
        Opts::new(
            "paliadin_agent_tokens_total",
            "Model tokens of finished turns, by kind and model",
        ),
        &["kind", "model"],
    )
    .expect("valid metric")
});

/// Counts one turn's usage.
pub fn count(usage: &Usage) {
    let model = if usage.model.is_empty() {
        "unknown"
    } else {
        usage.model.as_str()
    };
    for (kind, n) in [
        ("input", usage.input),
        ("output", usage.output),
        ("cache_read", usage.cache_read),
        ("cache_creation", usage.cache_creation),
    ] {
        TOKENS
            .with_label_values(&[kind, model])
            .inc_by(n.max(0) as u64);
    }
}

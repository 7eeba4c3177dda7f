//! Prometheus plumbing both binaries share: registering a metric in a process's own
//! [`Registry`] and rendering that registry in the text format served at `GET /metrics`.
//!
//! The metrics themselves stay with their process (`api/src/metrics.rs`,
//! `worker/src/metrics.rs`); the one both define, the listener reconnect counter, is here. The
//! alert-rules test looks for metric names in those three files.

use prometheus::{Encoder, IntCounter, Opts, Registry, TextEncoder};

/// The `Content-Type` of a `GET /metrics` answer (text format version 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Registers `c` in `r` and returns it (a clone shares the same figures).
pub fn register<C: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: C) -> C {
    r.register(Box::new(c.clone()))
        .expect("metric names are unique and valid");
    c
}

/// Everything in `r`, in the Prometheus text format (empty if it cannot be encoded).
pub fn render(r: &Registry) -> String {
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&r.gather(), &mut out) {
        tracing::warn!(error = %e, "metrics: cannot encode");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// `paliadin_listener_reconnects_total{component}`: times a process's LISTEN connection was
/// re-established after it dropped.
pub fn listener_reconnects(r: &Registry, component: &str) -> IntCounter {
    let opts = Opts::new(
        "paliadin_listener_reconnects_total",
        "Times the LISTEN connection was re-established after it dropped.",
    )
    .const_label("component", component);
    register(r, IntCounter::with_opts(opts).expect("valid metric"))
}

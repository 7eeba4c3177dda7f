//! Prometheus metrics of a worker process: claims, outcomes by error code, turn latencies,
//! lease losses, listener reconnects, turns in flight, agent errors by kind, and tmux command
//! latency. What they say of each host's agents also goes to the `hosts` table
//! ([`WorkerMetrics::agents_of`], written by the runtime with its heartbeat) for the admin
//! dashboard.
//!
//! Each [`Worker`](crate::runtime::Worker) owns a [`WorkerMetrics`] with its own registry (two
//! workers in one process, as in tests, keep separate figures). A driver brings its own
//! metrics ([`crate::driver::Driver::metrics`]: the local driver's tmux call histogram, which
//! the tmux layer records into through its `Tmux` handle) and the worker exports them.
//! `GET /metrics` is served by
//! [`serve`] on `PALIADIN_WORKER_METRICS_BIND` (off by default: several workers on one machine
//! would fight over a fixed port).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use paliadin_shared::TurnState;
use paliadin_shared::db::turns::TurnRow;
use paliadin_shared::events::ErrorCode;
use paliadin_shared::metrics::register;
use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Turn latency buckets, seconds: from sub-second queue waits to the 120 s turn limit and past.
const TURN_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0,
];
/// tmux command buckets, seconds (a local client call takes a few milliseconds).
const TMUX_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// A fresh tmux call histogram (a local driver records into it; its worker exports it).
pub fn tmux_timings() -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(
            "paliadin_tmux_command_duration_seconds",
            "Latency of one tmux operation, by subcommand and whether it succeeded.",
        )
        .buckets(TMUX_BUCKETS.to_vec()),
        &["command", "ok"],
    )
    .expect("valid metric")
}

pub struct WorkerMetrics {
    registry: Registry,
    /// Messages claimed (each attempt counts).
    pub claimed: IntCounter,
    /// `paliadin_turns_finished_total{outcome, error_code}`; `error_code` is `none` unless failed.
    pub finished: IntCounterVec,
    /// `claimed_at - queued_at` of first attempts.
    pub queue_wait: Histogram,
    /// `finished - queued_at`, by outcome.
    pub end_to_end: HistogramVec,
    pub in_flight: IntGauge,
    /// Attempts that lost their turn to another worker (fenced lease renewal or terminal write).
    pub lease_losses: IntCounter,
    /// Times the LISTEN connection was re-established after it dropped.
    pub listener_reconnects: IntCounter,
    pub heartbeat_failures: IntCounter,
    /// `paliadin_agent_errors_total{kind}`: turns that ended `agent_error`, by failure kind.
    pub agent_errors: IntCounterVec,
    /// `paliadin_turns_deferred_total{reason}`: claims put back in the queue without spending
    /// an attempt (`agents_full`: the host had no room for the turn's agent). Count with
    /// [`WorkerMetrics::deferred`], which also counts them per host.
    deferred: IntCounterVec,
    /// The same waits per host, for the `hosts` table ([`WorkerMetrics::agents_of`]).
    deferred_by_host: Mutex<HashMap<String, u64>>,
}

/// What this worker's metrics say of one host's agents ([`WorkerMetrics::agents_of`]):
/// the gauges as last set, the counters since this process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentFigures {
    /// None: the host's driver counts no agents (a host agent's host: its counts stay there).
    pub live: Option<u64>,
    /// 0: no limit.
    pub max: u64,
    pub starts: u64,
    pub resumes: u64,
    pub stops_idle: u64,
    pub stops_capacity: u64,
    pub stops_crash: u64,
    pub deferred: u64,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkerMetrics {
    pub fn new() -> Self {
        let r = Registry::new();
        let counter = |name: &str, help: &str| {
            register(&r, IntCounter::new(name, help).expect("valid metric"))
        };
        let claimed = counter(
            "paliadin_worker_turns_claimed_total",
            "Turn messages claimed by this worker (every attempt counts).",
        );
        let finished = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "paliadin_turns_finished_total",
                    "Turns this worker finished, by outcome and error code (`none` unless failed).",
                ),
                &["outcome", "error_code"],
            )
            .expect("valid metric"),
        );
        let queue_wait = register(
            &r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "paliadin_turn_queue_wait_seconds",
                    "Time from enqueue to first claim.",
                )
                .buckets(TURN_BUCKETS.to_vec()),
            )
            .expect("valid metric"),
        );
        let end_to_end = register(
            &r,
            HistogramVec::new(
                HistogramOpts::new(
                    "paliadin_turn_end_to_end_seconds",
                    "Time from enqueue to the terminal event, by outcome.",
                )
                .buckets(TURN_BUCKETS.to_vec()),
                &["outcome"],
            )
            .expect("valid metric"),
        );
        let in_flight = register(
            &r,
            IntGauge::new(
                "paliadin_worker_turns_in_flight",
                "Turns this worker is running now.",
            )
            .expect("valid metric"),
        );
        let lease_losses = counter(
            "paliadin_lease_losses_total",
            "Attempts that lost their turn to another worker (fenced out).",
        );
        let listener_reconnects = paliadin_shared::metrics::listener_reconnects(&r, "worker");
        let heartbeat_failures = counter(
            "paliadin_worker_heartbeat_failures_total",
            "Worker heartbeats that could not be written.",
        );
        let agent_errors = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "paliadin_agent_errors_total",
                    "Turns whose agent's model call failed (agent_error), by kind: \
                     authentication_failed, billing_error, rate_limit, overloaded, …",
                ),
                &["kind"],
            )
            .expect("valid metric"),
        );
        let deferred = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "paliadin_turns_deferred_total",
                    "Claims put back in the queue without spending an attempt, by reason \
                     (agents_full: every agent of the host was at work).",
                ),
                &["reason"],
            )
            .expect("valid metric"),
        );
        deferred.with_label_values(&["agents_full"]);
        WorkerMetrics {
            registry: r,
            agent_errors,
            deferred,
            deferred_by_host: Mutex::default(),
            claimed,
            finished,
            queue_wait,
            end_to_end,
            in_flight,
            lease_losses,
            listener_reconnects,
            heartbeat_failures,
        }
    }

    /// Counts a claim; a first attempt also records its queue wait.
    pub fn claimed(&self, turn: &TurnRow) {
        self.claimed.inc();
        if let (1, Some(claimed)) = (turn.attempt, turn.claimed_at) {
            let wait = (claimed - turn.queued_at).as_seconds_f64();
            self.queue_wait.observe(wait.max(0.0));
        }
    }

    /// Counts a turn in flight until the guard is dropped (also when its task panics).
    pub fn in_flight_guard(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// Counts a finished turn by the state it ended in.
    pub fn turn_finished(&self, state: TurnState, code: Option<ErrorCode>, end_to_end_secs: f64) {
        let (outcome, code) = (state.as_str(), code.map_or("none", ErrorCode::as_str));
        self.finished.with_label_values(&[outcome, code]).inc();
        self.end_to_end
            .with_label_values(&[outcome])
            .observe(end_to_end_secs.max(0.0));
    }

    /// Counts a turn that ended `agent_error` of this kind; a kind Claude Code 2.1.197 does not
    /// know is counted as `other` (the agent names it: the label set stays bounded).
    pub fn agent_error(&self, kind: &str) {
        let known = paliadin_shared::domain::agent_failure::KNOWN_KINDS.contains(&kind);
        let label = if known { kind } else { "other" };
        self.agent_errors.with_label_values(&[label]).inc();
    }

    /// Counts a turn put back in the queue because every agent of `host` was at work.
    pub fn deferred(&self, host: &str) {
        self.deferred.with_label_values(&["agents_full"]).inc();
        *self
            .deferred_by_host
            .lock()
            .expect("lock")
            .entry(host.to_owned())
            .or_default() += 1;
    }

    /// The agents of `host` as this worker's metrics count them: the `paliadin_agents_*` and
    /// `paliadin_agent_*_total` families its driver exports with that `host` label (the local
    /// driver's), plus the turns that waited for room there. A host behind a host agent has
    /// only the latter (its driver exports no agent figures: they stay on that host).
    pub fn agents_of(&self, host: &str) -> AgentFigures {
        let mut f = AgentFigures {
            deferred: self
                .deferred_by_host
                .lock()
                .expect("lock")
                .get(host)
                .copied()
                .unwrap_or(0),
            ..AgentFigures::default()
        };
        for family in self.registry.gather() {
            for m in family.get_metric() {
                let label = |name: &str| {
                    m.get_label()
                        .iter()
                        .find(|l| l.name() == name)
                        .map(|l| l.value())
                };
                if label("host") != Some(host) {
                    continue;
                }
                let gauge = m.get_gauge().get_value() as u64;
                let counter = m.get_counter().get_value() as u64;
                let slot = match (family.name(), label("reason"), label("mode")) {
                    ("paliadin_agents_live", _, _) => {
                        f.live = Some(gauge);
                        continue;
                    }
                    ("paliadin_agents_max", _, _) => {
                        f.max = gauge;
                        continue;
                    }
                    ("paliadin_agent_starts_total", _, Some("start")) => &mut f.starts,
                    ("paliadin_agent_starts_total", _, Some("resume")) => &mut f.resumes,
                    ("paliadin_agent_stops_total", Some("idle"), _) => &mut f.stops_idle,
                    ("paliadin_agent_stops_total", Some("capacity"), _) => &mut f.stops_capacity,
                    ("paliadin_agent_stops_total", Some("crash"), _) => &mut f.stops_crash,
                    _ => continue,
                };
                *slot = counter;
            }
        }
        f
    }

    /// Exports a driver's own metrics (e.g. tmux call latency); a collector already exported
    /// (two hosts on one driver) is skipped.
    pub fn export(&self, collectors: Vec<Box<dyn Collector>>) {
        for c in collectors {
            if let Err(e) = self.registry.register(c) {
                tracing::debug!(error = %e, "driver metric already exported");
            }
        }
    }

    /// Everything in the Prometheus text format.
    pub fn render(&self) -> String {
        paliadin_shared::metrics::render(&self.registry)
    }
}

/// One turn in flight (see [`WorkerMetrics::in_flight_guard`]).
pub struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn metrics(State(m): State<Arc<WorkerMetrics>>) -> Response {
    let mut resp = (StatusCode::OK, m.render()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(paliadin_shared::metrics::CONTENT_TYPE),
    );
    resp
}

/// Serves `GET /metrics` on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<WorkerMetrics>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(self::metrics))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(metrics);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

//! Prometheus metrics of the API process: HTTP requests, SSE streams, enqueued turns, queue
//! depth (refreshed from pgmq on every scrape) and event-listener reconnects.
//!
//! The metrics live in a [`prometheus::Registry`] owned by [`ApiMetrics`] (held by the app
//! state), not in the crate's global registry, so two API instances in one process (tests)
//! never mix their figures. `GET /metrics` is served on the main listener, or only on
//! `PALIADIN_METRICS_BIND` when that is set (see [`serve`]).

use crate::state::AppState;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use paliadin_shared::TurnState;
use paliadin_shared::db::{permissions, stats};
use paliadin_shared::metrics::register;
use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Buckets of request latencies, in seconds.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

pub struct ApiMetrics {
    registry: Registry,
    /// `paliadin_http_requests_total{method, route, status}`; `route` is the matched pattern
    /// (`/api/paliadin/stream/{id}`), or `unmatched`, so ids never become labels.
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    /// SSE streams currently open (replaying or following a turn for a client).
    pub sse_open: IntGauge,
    /// Events written to SSE clients, by `event` kind.
    pub sse_events: IntCounterVec,
    /// Turns committed to a queue, by `kind` (`message`, `reset`).
    pub turns_enqueued: IntCounterVec,
    queue_messages: IntGaugeVec,
    queue_visible: IntGaugeVec,
    queue_oldest: GaugeVec,
    turns_active: IntGaugeVec,
    turns_waiting: IntGauge,
    waiting_oldest: prometheus::Gauge,
    listener_reconnects: IntCounter,
    scrape_errors: IntCounter,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiMetrics {
    pub fn new() -> Self {
        let r = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(
                &r,
                IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            register(
                &r,
                IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        let http_requests = counter(
            "paliadin_http_requests_total",
            "HTTP requests answered, by method, matched route and status.",
            &["method", "route", "status"],
        );
        let http_duration = register(
            &r,
            HistogramVec::new(
                HistogramOpts::new(
                    "paliadin_http_request_duration_seconds",
                    "Time to the response head, by method and matched route (SSE: until the stream opens).",
                )
                .buckets(HTTP_BUCKETS.to_vec()),
                &["method", "route"],
            )
            .expect("valid metric"),
        );
        let sse_open = register(
            &r,
            IntGauge::new(
                "paliadin_sse_streams_open",
                "SSE streams currently sending events.",
            )
            .expect("valid metric"),
        );
        let sse_events = counter(
            "paliadin_sse_events_sent_total",
            "Events sent to SSE clients, by event kind.",
            &["event"],
        );
        let turns_enqueued = counter(
            "paliadin_turns_enqueued_total",
            "Turns committed to a queue by this API process, by kind.",
            &["kind"],
        );
        let queue_messages = gauge(
            "paliadin_queue_messages",
            "Messages in a pgmq queue (waiting and leased), read at scrape time.",
            &["queue"],
        );
        let queue_visible = gauge(
            "paliadin_queue_visible_messages",
            "Messages a worker could read now (vt <= now()), read at scrape time.",
            &["queue"],
        );
        let queue_oldest = register(
            &r,
            GaugeVec::new(
                Opts::new(
                    "paliadin_queue_oldest_message_age_seconds",
                    "Age of the oldest message in a pgmq queue (0 when empty), read at scrape time.",
                ),
                &["queue"],
            )
            .expect("valid metric"),
        );
        let turns_active = gauge(
            "paliadin_turns_active",
            "Turns queued or running right now (all users, all hosts), read at scrape time.",
            &["state"],
        );
        let turns_waiting = register(
            &r,
            IntGauge::new(
                "paliadin_turns_waiting",
                "Running turns waiting for the person to answer a permission request, read at scrape time.",
            )
            .expect("valid metric"),
        );
        let waiting_oldest = register(
            &r,
            prometheus::Gauge::new(
                "paliadin_turns_waiting_oldest_seconds",
                "How long the oldest undecided permission request has waited (0 when none), read at scrape time.",
            )
            .expect("valid metric"),
        );
        let listener_reconnects = paliadin_shared::metrics::listener_reconnects(&r, "api");
        let scrape_errors = register(
            &r,
            IntCounter::new(
                "paliadin_metrics_scrape_errors_total",
                "Scrapes whose database figures could not be read (the rest was served).",
            )
            .expect("valid metric"),
        );
        ApiMetrics {
            registry: r,
            http_requests,
            http_duration,
            sse_open,
            sse_events,
            turns_enqueued,
            queue_messages,
            queue_visible,
            queue_oldest,
            turns_active,
            turns_waiting,
            waiting_oldest,
            listener_reconnects,
            scrape_errors,
        }
    }

    /// Marks an SSE stream open until the returned guard is dropped.
    pub fn sse_stream(&self) -> SseGuard {
        self.sse_open.inc();
        SseGuard(self.sse_open.clone())
    }

    /// Counts one event sent to an SSE client.
    pub fn sse_sent(&self, kind: &str) {
        self.sse_events.with_label_values(&[kind]).inc();
    }

    /// Refreshes the database-backed gauges, then renders everything in the text format.
    pub async fn render(&self, st: &AppState) -> String {
        let reconnects = st.hub.connects().saturating_sub(1);
        let seen = self.listener_reconnects.get();
        if reconnects > seen {
            self.listener_reconnects.inc_by(reconnects - seen);
        }
        let figures = tokio::try_join!(
            stats::queues(&st.pool),
            stats::active(&st.pool),
            permissions::waiting(&st.pool),
        );
        match figures {
            Ok((queues, (queued, running), (waiting, oldest))) => {
                self.turns_waiting.set(waiting);
                self.waiting_oldest.set(oldest.unwrap_or(0.0));
                self.queue_messages.reset();
                self.queue_visible.reset();
                self.queue_oldest.reset();
                for q in queues {
                    let l = [q.queue.as_str()];
                    self.queue_messages.with_label_values(&l).set(q.length);
                    self.queue_visible
                        .with_label_values(&l)
                        .set(q.visible_length);
                    let oldest = q.oldest_age_secs.unwrap_or(0).max(0);
                    self.queue_oldest
                        .with_label_values(&l)
                        .set(f64::from(oldest));
                }
                let active = self.turns_active.clone();
                active
                    .with_label_values(&[TurnState::Queued.as_str()])
                    .set(queued);
                active
                    .with_label_values(&[TurnState::Running.as_str()])
                    .set(running);
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot read queue figures");
                self.scrape_errors.inc();
            }
        }
        paliadin_shared::metrics::render(&self.registry)
    }
}

/// Decrements `paliadin_sse_streams_open` when the stream ends, however it ends.
pub struct SseGuard(IntGauge);

impl Drop for SseGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `GET /metrics`: the Prometheus text format (version 0.0.4).
pub async fn metrics(State(st): State<AppState>) -> Response {
    let body = st.metrics.render(&st).await;
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(paliadin_shared::metrics::CONTENT_TYPE),
    );
    resp
}

/// The `method` label: a closed set, so requests with invented methods (anyone can send them)
/// cannot create new series.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts and times every request by matched route, and logs its outcome inside
/// the request span (probes and scrapes at `debug`, everything else at `info`; never bodies).
pub async fn track(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    st.metrics
        .http_requests
        .with_label_values(&[method, route.as_str(), &status.to_string()])
        .inc();
    st.metrics
        .http_duration
        .with_label_values(&[method, route.as_str()])
        .observe(elapsed.as_secs_f64());
    tracing::Span::current().record("status", status);
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics") {
        tracing::debug!(status, latency_ms, "request finished");
    } else {
        tracing::info!(status, latency_ms, "request finished");
    }
    resp
}

/// The span of one request: method and path (never the query string or a body); `status` is
/// recorded by [`track`] when the response is ready.
pub fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        status = tracing::field::Empty,
    )
}

/// Serves only `GET /metrics` on its own listener (`PALIADIN_METRICS_BIND`), until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .fallback(|| async { crate::error::not_found() });
    let limits = state.config.limits();
    crate::serve::serve(listener, app.with_state(state), limits, shutdown).await
}

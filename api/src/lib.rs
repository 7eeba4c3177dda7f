//! Paliadin API: enqueue turns into PostgreSQL (pgmq) and stream their durable events over SSE.
//!
//! # Layout
//! - [`cli`]: the command line (subcommands; `serve` takes [`config`]).
//! - [`doctor`]: `paliadin-api doctor`'s checks.
//! - [`config`]: settings (flags + environment).
//! - [`state`]: the shared [`state::AppState`].
//! - [`auth`]: bearer/cookie identity and the 404 role gates.
//! - [`hub`]: one LISTEN connection fanned out to every SSE stream.
//! - [`routes`]: handlers, one module per concern.
//! - [`error`]: the one `AppError` that renders the ⚑ error JSON.
//! - [`web`]: login/logout, the owner's chat page and its embedded assets.
//! - [`admin`]: stats, recent turns of all users, the dashboard (admins only).
//! - [`metrics`]: Prometheus metrics, `GET /metrics`, the request span and request log.
//! - [`push`]: Web Push notifications: VAPID key, subscriptions, the outbox sender.
//! - [`openapi`]: the OpenAPI document, `GET /api/openapi.json`.
//! - [`serve`]: the connection loop: head/idle timeout, connection cap, bounded shutdown.
//!
//! [`app`] builds the router (tests drive it directly); [`serve`] runs it until `shutdown`.

pub mod admin;
pub mod auth;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod error;
pub mod hub;
pub mod metrics;
pub mod openapi;
pub mod push;
pub mod routes;
pub mod serve;
pub mod state;
pub mod web;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::routing::{delete, get, post};
use state::AppState;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Largest request body accepted (the message limit is 32 KiB; JSON escaping can grow it).
const BODY_LIMIT: usize = 256 * 1024;

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/api/paliadin/turn", post(routes::enqueue::post_turn))
        .route("/api/paliadin/turns", get(routes::turns::history))
        .route(
            "/api/paliadin/conversations",
            get(routes::conversations::list),
        )
        .route(
            "/api/paliadin/conversations/{session_id}",
            delete(routes::conversations::forget),
        )
        .route(
            "/api/paliadin/conversations/{session_id}/terminal",
            get(routes::terminal::terminal),
        )
        .route(
            "/api/paliadin/turn/{id}/cancel",
            post(routes::turns::cancel),
        )
        .route(
            "/api/paliadin/turn/{turn_id}/permission/{request_id}",
            post(routes::permission::decide),
        )
        .route("/api/paliadin/stream/{id}", get(routes::stream::stream))
        .route(
            "/api/paliadin/uploads",
            // Its own limit (PALIADIN_UPLOAD_MAX_BYTES), read by the handler.
            post(routes::uploads::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/paliadin/uploads/{id}", get(routes::uploads::fetch))
        .route("/api/paliadin/reset", post(routes::turns::reset))
        .route("/api/paliadin/push/key", get(routes::push::key))
        .route(
            "/api/paliadin/push/subscriptions",
            post(routes::push::subscribe),
        )
        .route(
            "/api/paliadin/push/subscriptions/{id}",
            delete(routes::push::unsubscribe),
        )
        .merge(web::router())
        .merge(admin::router())
        .route("/api/openapi.json", get(openapi::openapi_json));
    if state.config.metrics_bind.is_none() {
        router = router.route("/metrics", get(metrics::metrics));
    }
    let router = router
        .fallback(|| async { error::not_found() })
        // A wrong method on a real route must not reveal the route (⚑ 404 for everyone else).
        .method_not_allowed_fallback(|| async { error::not_found() })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Nothing the API answers is for caches unless the handler says so (assets do).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(metrics::request_span)
                .on_request(())
                .on_response(()),
        )
        .with_state(state);
    // axum adds `Allow` to that 404 after every layer of the route: only a router around the
    // whole app can take it off again.
    Router::new()
        .fallback_service(router)
        .layer(axum::middleware::map_response(no_allow_header))
}

async fn no_allow_header(mut resp: axum::response::Response) -> axum::response::Response {
    resp.headers_mut().remove(header::ALLOW);
    resp
}

/// Serves until `shutdown` fires; open streams end on the same signal, and connections still
/// open `shutdown_grace` after it are dropped.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let limits = state.config.limits();
    serve::serve(listener, app(state), limits, shutdown).await
}

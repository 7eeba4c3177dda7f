//! The admin surface: queue-backed stats, recent turns of all users, and the dashboard page.
//! Every route answers 404 to anyone who is not an admin (the [`crate::auth::Admin`] gate).
//!
//! # Layout
//! - [`stats`]: `GET /api/admin/paliadin/stats?window=`.
//! - [`turns`]: `GET /api/admin/paliadin/turns`, `GET /api/admin/paliadin/turns/{id}`.
//! - [`page`]: `GET /admin/paliadin` and its assets under `/admin/paliadin/assets/`.

pub mod page;
pub mod stats;
pub mod turns;

use crate::state::AppState;
use axum::Router;
use axum::routing::get;

/// The admin routes, merged into [`crate::app`].
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/paliadin/stats", get(stats::stats))
        .route("/api/admin/paliadin/turns", get(turns::list))
        .route("/api/admin/paliadin/turns/{id}", get(turns::detail))
        .route("/admin/paliadin", get(page::dashboard))
        .route("/admin/paliadin/assets/{name}", get(page::asset))
}

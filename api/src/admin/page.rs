//! `GET /admin/paliadin`: the admin dashboard, a static shell whose script (`admin.js`) reads
//! the stats and turns JSON and draws tiles, SVG charts and tables. The page and its assets
//! exist only for admins (everyone else gets the plain 404); the shared theme script and icon
//! come from the web app's public `/assets/`.

use crate::auth::Admin;
use crate::web::{assets, html, security_headers};
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;

const PAGE_HTML: &str = include_str!("../../assets/admin/admin.html");
static PAGE: LazyLock<String> = LazyLock::new(|| assets::versioned(PAGE_HTML));

/// The dashboard's own files: `(name, content type, body)`.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/admin/admin.js"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/admin/charts.js"),
    ),
    (
        "turns.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/admin/turns.js"),
    ),
    (
        "util.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/admin/util.js"),
    ),
    (
        "admin.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/admin/admin.css"),
    ),
];

/// `GET /admin/paliadin` (admin).
pub async fn dashboard(Admin(_): Admin) -> Response {
    html(StatusCode::OK, PAGE.clone())
}

/// `GET /admin/paliadin/assets/{name}` (admin). Revalidated on every load: they are small.
pub async fn asset(Admin(_): Admin, Path(name): Path<String>) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return crate::error::not_found();
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    security_headers(h);
    resp
}

//! The owner's web app: login and logout, the chat page, and its static assets embedded in the
//! binary (no CDN, no build step).
//!
//! # Layout
//! - [`login`]: `GET/POST /login`, `POST /logout`: a bearer token is exchanged for a session
//!   cookie (HttpOnly, SameSite=Strict); only the cookie secret's hash is stored.
//! - [`pages`]: `GET /paliadin` and `GET /paliadin/c/{session_id}` (one conversation), owners
//!   only; everyone else gets the plain 404 of an unrouted path.
//! - [`assets`]: `GET /assets/{name}`, the files of `api/assets/`, versioned for caching.
//! - [`pwa`]: `GET /sw.js` (the service worker that shows pushed notifications) and
//!   `GET /manifest.webmanifest` (installable on a phone).
//!
//! Every HTML response carries a strict Content-Security-Policy (no inline script, no inline
//! style, nothing from other origins), so even if sanitising a reply ever failed, the HTML the
//! page inserts could not run code or load anything.

pub mod assets;
pub mod login;
pub mod pages;
pub mod pwa;

use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

/// The pages' Content-Security-Policy: everything from this origin only, no inline code.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The web app's routes, merged into [`crate::app`].
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/paliadin", get(pages::chat))
        .route("/paliadin/c/{session_id}", get(pages::conversation))
        .route("/assets/{name}", get(assets::asset))
        .route("/sw.js", get(pwa::service_worker))
        .route("/manifest.webmanifest", get(pwa::manifest))
}

/// An HTML page: never cached (it depends on who asks), framed by nobody, strict CSP.
pub fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    security_headers(h);
    resp
}

/// Headers every web response carries.
pub fn security_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

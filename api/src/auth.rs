//! Who is calling: bearer tokens for programs, the session cookie for browsers.
//!
//! Extractors [`Owner`] and [`Admin`] answer **404** (exactly like an unrouted path) to anyone
//! who is anonymous, disabled, or has another role. Cookie-authenticated requests that change
//! state must carry an `Origin` equal to the request's own origin.

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use paliadin_shared::db::users::{self, Role, UserRow};
use paliadin_shared::secret;

/// Name of the browser session cookie. The `__Host-` prefix makes browsers accept it only
/// with `Secure`, `Path=/` and no `Domain`: a sibling host cannot plant or shadow it.
pub const SESSION_COOKIE: &str = "__Host-paliadin_session";

/// The cookie's name when `PALIADIN_COOKIE_SECURE=false` (plain HTTP on a loopback bind only,
/// where `__Host-` is impossible without `Secure`).
pub const LOOPBACK_SESSION_COOKIE: &str = "paliadin_session";

/// The session cookie's name for this configuration.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SESSION_COOKIE
    } else {
        LOOPBACK_SESSION_COOKIE
    }
}

/// An authenticated, enabled user of any role.
#[derive(Debug, Clone)]
pub struct AuthUser(pub UserRow);

/// An authenticated user with role `owner`.
#[derive(Debug, Clone)]
pub struct Owner(pub UserRow);

/// An authenticated user with role `admin`.
#[derive(Debug, Clone)]
pub struct Admin(pub UserRow);

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = v.strip_prefix("Bearer ")?.trim();
    (!token.is_empty()).then_some(token)
}

/// The value of the session cookie `name`, if the request carries exactly one: a request with
/// two (one planted by someone else) has no session, whatever their order.
pub fn session_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v);
    let only = found.next()?;
    (found.next().is_none() && !only.is_empty()).then_some(only)
}

/// State-changing cookie requests must come from our own origin (CSRF defence in depth on top
/// of SameSite=Strict).
pub fn same_origin(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(o), Some(h)) => {
            let o = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"))
                .unwrap_or("");
            o == h
        }
        _ => false,
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer(parts) {
            let user = users::by_token_hash(&state.pool, &secret::hash(token)).await?;
            return user.map(AuthUser).ok_or(AppError::NotFound);
        }
        let name = cookie_name(state.config.cookie_secure);
        if let Some(cookie) = session_cookie(&parts.headers, name) {
            if !same_origin(&parts.method, &parts.headers) {
                return Err(AppError::NotFound);
            }
            let user = users::by_web_session(&state.pool, &secret::hash(cookie)).await?;
            return user.map(AuthUser).ok_or(AppError::NotFound);
        }
        Err(AppError::NotFound)
    }
}

async fn with_role(parts: &mut Parts, state: &AppState, role: Role) -> Result<UserRow, AppError> {
    let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
    if user.role == role {
        Ok(user)
    } else {
        Err(AppError::NotFound)
    }
}

impl FromRequestParts<AppState> for Owner {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        with_role(parts, state, Role::Owner).await.map(Owner)
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        with_role(parts, state, Role::Admin).await.map(Admin)
    }
}

//! Login and logout. `POST /login` exchanges a bearer token (form field or JSON `{token}`) for a
//! browser session: a fresh random secret goes into the `paliadin_session` cookie (HttpOnly,
//! SameSite=Strict, Path=/, Secure when configured) and only its hash into `web_sessions`.
//!
//! A POST that carries an `Origin` must carry ours (a cross-site form cannot log the browser
//! into someone else's account); programs send none. Any such refusal is the plain 404.

use crate::auth::{cookie_name, same_origin, session_cookie};
use crate::error::{AppError, not_found};
use crate::routes::json::JsonBody;
use crate::state::AppState;
use crate::web::{assets, html};
use axum::Json;
use axum::extract::{Form, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{TimeDelta, Utc};
use paliadin_shared::db::users::{self, Role};
use paliadin_shared::secret;
use serde::Deserialize;
use serde_json::json;
use std::sync::LazyLock;

const LOGIN_HTML: &str = include_str!("../../assets/login.html");
static LOGIN_PAGE: LazyLock<String> = LazyLock::new(|| assets::versioned(LOGIN_HTML));

/// Where the form shows its error; the message is fixed text, nothing the caller sent.
const ERROR_SLOT: &str = "<!--error-->";
const ERROR_HTML: &str = "<p class=\"form-error\" role=\"alert\" id=\"token-error\">\
    That token was not accepted. Check it and try again.</p>";

/// Longest token accepted (real ones are 68 characters).
const MAX_TOKEN: usize = 256;

#[derive(Debug, Deserialize)]
pub struct LoginBody {
    token: Option<String>,
}

/// `GET /login`: the form (public).
pub async fn page() -> Response {
    html(StatusCode::OK, LOGIN_PAGE.replace(ERROR_SLOT, ""))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().starts_with("application/json"))
}

fn wants_json(headers: &HeaderMap) -> bool {
    is_json(headers)
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json"))
}

/// A cross-origin browser POST; requests without `Origin` (programs) pass.
fn foreign_origin(method: &Method, headers: &HeaderMap) -> bool {
    headers.contains_key(header::ORIGIN) && !same_origin(method, headers)
}

async fn read_token(req: Request, json: bool) -> Result<Option<String>, AppError> {
    let body = if json {
        JsonBody::<LoginBody>::from_request(req, &()).await?.0
    } else {
        Form::<LoginBody>::from_request(req, &())
            .await
            .map_err(|e| AppError::BadRequest("invalid_form", e.body_text()))?
            .0
    };
    Ok(body
        .token
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN))
}

/// The `Set-Cookie` value for a session secret (`None` clears the cookie).
fn cookie(value: Option<&str>, max_age_secs: i64, secure: bool) -> HeaderValue {
    let (v, age) = match value {
        Some(v) => (v, max_age_secs),
        None => ("", 0),
    };
    let name = cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    let c = format!("{name}={v}; Path=/; Max-Age={age}; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&c).expect("cookie is ASCII")
}

/// `POST /login`: token → session cookie, then the role's page.
pub async fn login(State(st): State<AppState>, req: Request) -> Result<Response, AppError> {
    if foreign_origin(req.method(), req.headers()) {
        return Ok(not_found());
    }
    let json = wants_json(req.headers());
    let body_is_json = is_json(req.headers());
    let name = cookie_name(st.config.cookie_secure);
    let previous = session_cookie(req.headers(), name).map(str::to_owned);
    let token = read_token(req, body_is_json).await?;
    let user = match &token {
        Some(t) => users::by_token_hash(&st.pool, &secret::hash(t)).await?,
        None => None,
    };
    let Some((user, role)) = user.map(|u| (u.clone(), u.role)) else {
        return Ok(if json {
            AppError::BadRequest("invalid_token", "that token was not accepted".into())
                .into_response()
        } else {
            html(
                StatusCode::BAD_REQUEST,
                LOGIN_PAGE.replace(ERROR_SLOT, ERROR_HTML),
            )
        });
    };
    let hours = st.config.session_hours.clamp(1, 24 * 366);
    let expires = Utc::now() + TimeDelta::hours(hours);
    let session = secret::new_token();
    users::create_web_session(&st.pool, &secret::hash(&session), user.id, expires).await?;
    if let Some(old) = previous {
        // A fresh login replaces the browser's previous session (no fixation, no leftovers).
        users::delete_web_session(&st.pool, &secret::hash(&old)).await?;
    }
    tracing::info!(user = %user.id, role = role.as_str(), "web login");
    let redirect = match role {
        Role::Owner => "/paliadin",
        Role::Admin => "/admin/paliadin",
    };
    let set = cookie(Some(&session), hours * 3600, st.config.cookie_secure);
    let mut resp = if json {
        Json(json!({ "ok": true, "role": role.as_str(), "redirect": redirect })).into_response()
    } else {
        see_other(redirect)
    };
    let h = resp.headers_mut();
    h.insert(header::SET_COOKIE, set);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

fn see_other(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// `POST /logout`: ends the browser's session and clears the cookie. A cookie request must come
/// from our own origin (else 404, and the session lives on).
pub async fn logout(
    State(st): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if let Some(c) = session_cookie(&headers, cookie_name(st.config.cookie_secure)) {
        if !same_origin(&method, &headers) {
            return Ok(not_found());
        }
        users::delete_web_session(&st.pool, &secret::hash(c)).await?;
    }
    let mut resp = if wants_json(&headers) {
        Json(json!({ "ok": true })).into_response()
    } else {
        see_other("/login")
    };
    let h = resp.headers_mut();
    h.insert(header::SET_COOKIE, cookie(None, 0, st.config.cookie_secure));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

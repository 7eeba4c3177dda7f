//! `GET /api/admin/paliadin/turns?limit=&state=&user=`: recent turns of all users, newest first;
//! `GET /api/admin/paliadin/turns/{id}`: one turn with its events.
//!
//! Admins operate the service, they do not read conversations: turns carry sizes, timings and
//! outcomes, and event bodies are redacted (`content` deltas become their length; `end` loses
//! its text and HTML).

use crate::admin::stats::bad_query;
use crate::auth::Admin;
use crate::error::AppError;
use crate::openapi::ErrorBody;
use crate::routes::turns::{parse_limit, turn_id};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use paliadin_shared::TurnState;
use paliadin_shared::db::events;
use paliadin_shared::db::stats::recent::{self, AdminTurn, RecentFilter, UserFilter};
use paliadin_shared::events::EventKind;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentQuery {
    /// How many turns, 1..=500 (default 50).
    pub limit: Option<String>,
    /// Only turns in this state: queued, running, succeeded, failed or cancelled.
    pub state: Option<String>,
    /// Only this user's turns: their id (UUID) or email.
    pub user: Option<String>,
}

/// One stored event, as the admin sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminEvent {
    pub seq: i32,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    /// The event's data, with reply text redacted.
    pub data: Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminTurnDetail {
    pub turn: AdminTurn,
    pub events: Vec<AdminEvent>,
}

fn bad(code: &'static str, msg: &str) -> AppError {
    AppError::BadRequest(code, msg.to_owned())
}

fn filter(q: RecentQuery) -> Result<RecentFilter, AppError> {
    let limit = parse_limit(q.limit.as_deref(), 50, 500)?;
    let state = match q.state.as_deref() {
        None | Some("") => None,
        Some(s) => match TurnState::parse(s) {
            Some(state) => Some(state),
            None => {
                return Err(bad(
                    "invalid_state",
                    "state must be queued, running, succeeded, failed or cancelled",
                ));
            }
        },
    };
    let user = match q.user.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) => match Uuid::parse_str(u) {
            Ok(id) => Some(UserFilter::Id(id)),
            Err(_) if u.len() <= 254 && u.contains('@') && !u.chars().any(char::is_control) => {
                Some(UserFilter::Email(u.to_owned()))
            }
            Err(_) => return Err(bad("invalid_user", "user must be a user id or an email")),
        },
    };
    Ok(RecentFilter { state, user, limit })
}

#[utoipa::path(
    get,
    path = "/api/admin/paliadin/turns",
    tag = "admin",
    params(RecentQuery),
    responses(
        (status = 200, description = "Recent turns, newest first", body = [AdminTurn]),
        (status = 400, description = "Invalid filter", body = ErrorBody),
        (status = 404, description = "Not an admin", body = ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn list(
    State(st): State<AppState>,
    Admin(_): Admin,
    query: Result<Query<RecentQuery>, QueryRejection>,
) -> Result<Json<Vec<AdminTurn>>, AppError> {
    let Query(q) = query.map_err(bad_query)?;
    Ok(Json(recent::list(&st.pool, &filter(q)?).await?))
}

/// Keeps what an operator needs from an event, never the reply itself.
pub fn redact(kind: EventKind, data: Value) -> Value {
    match kind {
        EventKind::Content => {
            let chars = data["delta"].as_str().map_or(0, |d| d.chars().count());
            json!({ "delta_chars": chars })
        }
        EventKind::End => {
            let mut d = data;
            if let Some(obj) = d.as_object_mut() {
                let chars = obj
                    .remove("text")
                    .and_then(|t| t.as_str().map(|t| t.chars().count()));
                obj.remove("html");
                obj.insert("text_chars".into(), json!(chars));
            }
            d
        }
        // What the agent asked may quote secrets; the person's words are theirs.
        EventKind::Permission => chars_of(data, "summary"),
        EventKind::PermissionDecided => chars_of(data, "message"),
        EventKind::Status => chars_of(data, "screen"),
        // The activity hook quotes tool input (commands, prompts): as private as the reply.
        EventKind::Activity => chars_of(data, "text"),
        // The work log quotes the agent's words, tool input and output: only their lengths.
        EventKind::Step => chars_of(chars_of(chars_of(data, "text"), "summary"), "excerpt"),
        EventKind::Meta | EventKind::Error | EventKind::Cancelled => data,
    }
}

/// `data` with its text field `key` replaced by `<key>_chars` (its length), when present.
fn chars_of(mut data: Value, key: &str) -> Value {
    if let Some(obj) = data.as_object_mut()
        && let Some(text) = obj.remove(key)
    {
        let chars = text.as_str().map_or(0, |t| t.chars().count());
        obj.insert(format!("{key}_chars"), json!(chars));
    }
    data
}

#[utoipa::path(
    get,
    path = "/api/admin/paliadin/turns/{id}",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The turn id")),
    responses(
        (status = 200, description = "The turn and its events", body = AdminTurnDetail),
        (status = 404, description = "Unknown turn, or not an admin", body = ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn detail(
    State(st): State<AppState>,
    Admin(_): Admin,
    Path(raw): Path<String>,
) -> Result<Json<AdminTurnDetail>, AppError> {
    let id = turn_id(&raw)?;
    let turn = recent::get(&st.pool, id).await?.ok_or(AppError::NotFound)?;
    let events = events::list_after(&st.pool, id, 0)
        .await?
        .into_iter()
        .map(|e| AdminEvent {
            data: redact(e.kind, e.data),
            seq: e.seq,
            kind: e.kind.as_str().to_owned(),
            created_at: e.created_at,
        })
        .collect();
    Ok(Json(AdminTurnDetail { turn, events }))
}

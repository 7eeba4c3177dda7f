//! The owner's turns: history, cancel, and reset (a reset is a turn too, so it runs in order
//! with the user's other turns, on the worker that owns their session).

use crate::auth::Owner;
use crate::error::AppError;
use crate::routes::enqueue::{enqueue, reset_request};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use paliadin_shared::db::{cancel, turns, usage};
use paliadin_shared::{TurnKind, TurnState};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    pub session_id: Option<String>,
    pub limit: Option<String>,
}

/// One turn as the owner sees it in their history.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryItem {
    pub turn_id: Uuid,
    pub session_id: Uuid,
    pub state: TurnState,
    pub user_message: String,
    pub queued_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub text: Option<String>,
    /// `text` rendered to sanitised HTML (as in the `end` event), for succeeded turns.
    #[serde(default)]
    pub html: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// An `agent_error`'s kind (`rate_limit`, `overloaded`, `authentication_failed`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    pub sse_url: String,
    /// What the model spent on the turn, as in the `end` event (absent when none was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub usage: Option<paliadin_shared::domain::usage::Usage>,
    /// The files and images sent with the message, in order (their bytes:
    /// `GET /api/paliadin/uploads/{upload_id}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uploads: Vec<crate::routes::uploads::UploadResponse>,
    /// How many work-log `step` events the turn has (0: none); the steps themselves are
    /// replayed by its `sse_url`.
    #[serde(default)]
    pub steps: i64,
    /// The kind of agent that answered (`claude`, `codex`, `demo`, `other`), as in the `end`
    /// event; absent when none did (a failed or cancelled turn, a reset, an older worker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<paliadin_shared::domain::AgentKind>,
    /// The agent window the turn goes to, runs in or ran in: `c-<32 hex of the conversation>`
    /// on its host (the one that answered, when `agent` names one).
    pub window: TurnWindow,
}

/// The agent window of a turn: its conversation's window on the turn's host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TurnWindow {
    /// `c-<32 hex of the conversation id>`.
    pub name: String,
    /// The host whose tmux server ran it.
    pub host: String,
}

impl TurnWindow {
    /// The window of `turn`'s conversation on its host.
    pub fn of(turn: &turns::TurnRow) -> TurnWindow {
        TurnWindow {
            name: crate::routes::conversations::window_name(turn.session_id),
            host: turn.host.to_string(),
        }
    }
}

pub fn parse_limit(raw: Option<&str>, default: i64, max: i64) -> Result<i64, AppError> {
    match raw {
        None => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(AppError::BadRequest(
                "invalid_limit",
                format!("limit must be an integer in 1..={max}"),
            )),
        },
    }
}

/// Most turns one history request returns (each rendered through the sanitiser).
pub const MAX_HISTORY: i64 = 100;

/// `GET /api/paliadin/turns?session_id=&limit=`: the caller's history, newest last; at most
/// [`MAX_HISTORY`] turns and `PALIADIN_HISTORY_MAX_BYTES` of text (older ones are left out).
#[utoipa::path(get, path = "/api/paliadin/turns", tag = "owner", params(HistoryQuery),
    responses(
        (status = 200, description = "The caller's turns, newest last", body = [HistoryItem]),
        (status = 400, description = "Invalid limit or session_id", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not an owner", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn history(
    State(st): State<AppState>,
    Owner(user): Owner,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<HistoryItem>>, AppError> {
    let limit = parse_limit(q.limit.as_deref(), 50, MAX_HISTORY)?;
    let session = match q.session_id.as_deref() {
        None | Some("") => None,
        Some(s) => Some(Uuid::parse_str(s).map_err(|_| {
            AppError::BadRequest("invalid_session_id", "session_id must be a UUID".into())
        })?),
    };
    let rows = turns::list_owned(
        &st.pool,
        user.id,
        session,
        limit,
        st.config.history_max_bytes,
    )
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut spent: std::collections::HashMap<Uuid, _> = usage::of_turns(&st.pool, user.id, &ids)
        .await?
        .into_iter()
        .map(|t| (t.turn_id, t.usage))
        .collect();
    let mut sent = crate::routes::uploads::of_turns(&st.pool, user.id, &ids).await?;
    let steps: std::collections::HashMap<Uuid, i64> =
        paliadin_shared::db::events::step_counts(&st.pool, &ids)
            .await?
            .into_iter()
            .collect();
    Ok(Json(
        rows.into_iter()
            .map(|r| HistoryItem {
                window: TurnWindow::of(&r),
                usage: spent.remove(&r.id),
                uploads: sent.remove(&r.id).unwrap_or_default(),
                steps: steps.get(&r.id).copied().unwrap_or(0),
                sse_url: format!("/api/paliadin/stream/{}", r.id),
                turn_id: r.id,
                session_id: r.session_id,
                state: r.state,
                user_message: r.message,
                queued_at: r.queued_at,
                finished_at: r.finished_at,
                html: r
                    .reply_text
                    .as_deref()
                    .map(paliadin_shared::render::markdown_to_safe_html),
                text: r.reply_text,
                error_code: r.error_code,
                error_message: r.error_message,
                error_kind: r.error_kind,
                agent: r.agent,
            })
            .collect(),
    ))
}

/// Parses a turn id from the path; a malformed id is "not found" like any other unknown id.
pub fn turn_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

/// `POST /api/paliadin/turn/{id}/cancel`.
#[utoipa::path(post, path = "/api/paliadin/turn/{id}/cancel", tag = "owner",
    params(("id" = Uuid, Path, description = "The turn id")),
    responses(
        (status = 200, description = "`{ok, state}`: cancelled, or cancelling while a worker stops it", body = Object),
        (status = 404, description = "Unknown turn, or not the caller's", body = crate::openapi::ErrorBody),
        (status = 409, description = "The turn already finished", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn cancel(
    State(st): State<AppState>,
    Owner(user): Owner,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let id = turn_id(&raw)?;
    let turn = turns::get_owned(&st.pool, id, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    if turn.state == TurnState::Queued
        && cancel::cancel_queued(&st.pool, &st.queue, id, user.id).await?
    {
        tracing::info!(turn_id = %id, "queued turn cancelled");
        return Ok(Json(json!({ "ok": true, "state": "cancelled" })));
    }
    if cancel::request_cancel(&st.pool, id, user.id).await? {
        return Ok(Json(json!({ "ok": true, "state": "cancelling" })));
    }
    let now = turns::get_owned(&st.pool, id, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    match now.state {
        TurnState::Cancelled => Ok(Json(json!({ "ok": true, "state": "cancelled" }))),
        s => Err(AppError::Conflict(format!("the turn is already {s}"))),
    }
}

/// `POST /api/paliadin/reset`: queues a reset behind the user's turns and waits (at most
/// `PALIADIN_RESET_WAIT_SECS`) until a worker has killed the session; after that it answers
/// `202` with the reset turn, which runs when a worker gets to it.
#[utoipa::path(post, path = "/api/paliadin/reset", tag = "owner",
    responses(
        (status = 200, description = "`{ok, session_id, turn_id, sse_url}`: the session was killed", body = Object),
        (status = 202, description = "`{ok, state: \"queued\", session_id, turn_id, sse_url}`: the reset is queued; follow `sse_url` for its outcome", body = Object),
        (status = 404, description = "Not an owner", body = crate::openapi::ErrorBody),
        (status = 429, description = "Too many turns queued (a reset counts as one)", body = crate::openapi::ErrorBody),
        (status = 503, description = "The reset failed", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn reset(
    State(st): State<AppState>,
    Owner(user): Owner,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let row = enqueue(
        &st,
        user.id,
        Some(Uuid::now_v7()),
        TurnKind::Reset,
        &reset_request(),
    )
    .await?
    .ok_or_else(|| AppError::internal(anyhow::anyhow!("reset turn not inserted")))?;
    // Subscribed before the first read of the turn, so no event after that read is missed.
    let notices = st.hub.subscribe(row.id);
    let wait = async {
        loop {
            let heard = notices.heard();
            let t = turns::get(&st.pool, row.id)
                .await?
                .ok_or(AppError::NotFound)?;
            if t.is_finished() {
                return Ok::<_, AppError>(t);
            }
            // Wake on any event of this turn, a resync, or a periodic re-check.
            let _ = tokio::time::timeout(Duration::from_secs(1), notices.changed(heard)).await;
        }
    };
    let sse_url = format!("/api/paliadin/stream/{}", row.id);
    let waited = tokio::select! {
        t = wait => Some(t),
        _ = tokio::time::sleep(Duration::from_secs(st.config.reset_wait_secs)) => None,
        _ = st.shutdown.cancelled() => None,
    };
    let Some(t) = waited else {
        let body = json!({ "ok": true, "state": "queued", "session_id": row.session_id,
                           "turn_id": row.id, "sse_url": sse_url });
        return Ok((StatusCode::ACCEPTED, Json(body)));
    };
    let t = t?;
    match t.state {
        TurnState::Succeeded => Ok((
            StatusCode::OK,
            // The new conversation is the reset turn's own: a turn posted without a session_id
            // continues it too.
            Json(json!({ "ok": true, "session_id": row.session_id,
                         "turn_id": row.id, "sse_url": sse_url })),
        )),
        s => Err(AppError::NotReady(format!(
            "reset failed: {}",
            t.error_message.unwrap_or_else(|| s.to_string())
        ))),
    }
}

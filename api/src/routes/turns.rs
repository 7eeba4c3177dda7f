//! The owner's turns: history, cancel, and reset (a reset is a turn too, so it runs in order
//! with the user's other turns, on the worker that owns their session).

use crate::auth::Owner;
use crate::error::AppError;
use crate::routes::enqueue::{enqueue, reset_request};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use paliadin_shared::db::{events, turns};
use paliadin_shared::events::NewEvent;
use paliadin_shared::queue::TurnQueue;
use paliadin_shared::{HostName, TurnKind, TurnState};
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
    pub sse_url: String,
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

/// `GET /api/paliadin/turns?session_id=&limit=`: the caller's history, newest last.
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
    let limit = parse_limit(q.limit.as_deref(), 50, 500)?;
    let session = match q.session_id.as_deref() {
        None | Some("") => None,
        Some(s) => Some(Uuid::parse_str(s).map_err(|_| {
            AppError::BadRequest("invalid_session_id", "session_id must be a UUID".into())
        })?),
    };
    let rows = turns::list_owned(&st.pool, user.id, session, limit).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| HistoryItem {
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
    if turn.state == TurnState::Queued && cancel_queued(&st.pool, &st.queue, id, user.id).await? {
        return Ok(Json(json!({ "ok": true, "state": "cancelled" })));
    }
    if turns::request_cancel(&st.pool, id, user.id).await? {
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

/// Cancels a queued turn: state, terminal event and queue message go together.
async fn cancel_queued(
    pool: &sqlx::PgPool,
    queue: &TurnQueue,
    id: Uuid,
    user: Uuid,
) -> Result<bool, AppError> {
    let mut tx = pool.begin().await?;
    let Some(row) = turns::cancel_queued(&mut tx, id, user).await? else {
        return Ok(false);
    };
    events::append(&mut tx, id, None, &NewEvent::cancelled()).await?;
    if let (Some(msg_id), Ok(host)) = (row.msg_id, HostName::parse(&row.host)) {
        queue.delete(&mut tx, &host, msg_id).await?;
    }
    tx.commit().await?;
    tracing::info!(turn_id = %id, "queued turn cancelled");
    Ok(true)
}

/// `POST /api/paliadin/reset`: queues a reset behind the user's turns and waits until a worker
/// has killed the session.
#[utoipa::path(post, path = "/api/paliadin/reset", tag = "owner",
    responses(
        (status = 200, description = "`{ok, session_id}`: the session was killed", body = Object),
        (status = 404, description = "Not an owner", body = crate::openapi::ErrorBody),
        (status = 429, description = "Too many turns queued (a reset counts as one)", body = crate::openapi::ErrorBody),
        (status = 503, description = "No worker finished the reset in time", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn reset(
    State(st): State<AppState>,
    Owner(user): Owner,
) -> Result<Json<Value>, AppError> {
    let row = enqueue(
        &st,
        user.id,
        Uuid::now_v7(),
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
    let t = tokio::time::timeout(Duration::from_secs(st.config.reset_wait_secs), wait)
        .await
        .map_err(|_| {
            AppError::NotReady("no worker finished the reset in time; it stays queued".into())
        })??;
    match t.state {
        TurnState::Succeeded => Ok(Json(json!({ "ok": true, "session_id": Uuid::now_v7() }))),
        s => Err(AppError::NotReady(format!(
            "reset failed: {}",
            t.error_message.unwrap_or_else(|| s.to_string())
        ))),
    }
}

//! `POST /api/paliadin/turn`: validate, then enqueue ([`paliadin_shared::db::enqueue`]: the turn
//! row, its first events and the pgmq message in **one transaction**).

use crate::auth::Owner;
use crate::error::AppError;
use crate::routes::json::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use paliadin_shared::db::enqueue::{self, Enqueue, Enqueued};
use paliadin_shared::db::turns;
use paliadin_shared::{MessageError, TurnKind, UserMessage};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TurnRequest {
    pub user_message: Option<String>,
    pub session_id: Option<String>,
    pub page_origin: Option<String>,
    pub client_turn_id: Option<String>,
    /// Uploads (`POST /api/paliadin/uploads`) the agent gets with this message, in order; at
    /// most `PALIADIN_UPLOAD_MAX_PER_TURN`, each a pending upload of the caller's.
    #[serde(default)]
    pub upload_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct TurnResponse {
    pub turn_id: Uuid,
    pub sse_url: String,
    pub session_id: Uuid,
    /// The agent window the turn goes to (`c-<32 hex of session_id>` on its host).
    pub window: crate::routes::turns::TurnWindow,
}

impl TurnResponse {
    pub fn of(row: &turns::TurnRow) -> Self {
        TurnResponse {
            turn_id: row.id,
            sse_url: format!("/api/paliadin/stream/{}", row.id),
            session_id: row.session_id,
            window: crate::routes::turns::TurnWindow::of(row),
        }
    }
}

fn bad(code: &'static str, msg: impl Into<String>) -> AppError {
    AppError::BadRequest(code, msg.into())
}

/// Validated request fields.
pub struct Valid {
    message: UserMessage,
    session_id: Option<Uuid>,
    page_origin: Option<String>,
    client_turn_id: Option<String>,
    uploads: Vec<Uuid>,
}

fn validate(req: TurnRequest, max_uploads: usize) -> Result<Valid, AppError> {
    let uploads = super::uploads::parse_ids(req.upload_ids.as_deref(), max_uploads)?;
    let raw = req
        .user_message
        .ok_or_else(|| bad("empty_message", "user_message is required"))?;
    let message = UserMessage::parse(&raw).map_err(|e| match e {
        MessageError::Empty => bad("empty_message", e.to_string()),
        MessageError::TooLarge(_) => AppError::TooLarge(e.to_string()),
        MessageError::ControlCharacter(..) => bad("invalid_message", e.to_string()),
    })?;
    let session_id = match req.session_id.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            Uuid::parse_str(s)
                .map_err(|_| bad("invalid_session_id", "session_id must be a UUID"))?,
        ),
    };
    if let Some(p) = &req.page_origin
        && (p.len() > 2048 || p.chars().any(char::is_control))
    {
        return Err(bad(
            "invalid_page_origin",
            "page_origin must be at most 2048 printable characters",
        ));
    }
    if let Some(c) = &req.client_turn_id
        && (c.is_empty() || c.len() > 128 || !c.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(bad(
            "invalid_client_turn_id",
            "client_turn_id must be 1..=128 printable ASCII characters",
        ));
    }
    Ok(Valid {
        message,
        session_id,
        page_origin: req.page_origin,
        client_turn_id: req.client_turn_id,
        uploads,
    })
}

/// A retried POST with the same `client_turn_id` gets the same turn; a different message under
/// the same id is a conflict.
fn same_request(row: &turns::TurnRow, v: &Valid) -> Result<TurnResponse, AppError> {
    let same =
        row.message == v.message.as_str() && v.session_id.is_none_or(|s| s == row.session_id);
    if same {
        Ok(TurnResponse::of(row))
    } else {
        Err(AppError::Conflict(
            "client_turn_id was already used for a different message".into(),
        ))
    }
}

#[utoipa::path(post, path = "/api/paliadin/turn", tag = "owner", request_body = TurnRequest,
    responses(
        (status = 200, description = "Queued (or the earlier turn of this client_turn_id)", body = TurnResponse),
        (status = 400, description = "Invalid input (`invalid_upload_ids`, `too_many_uploads` among them)", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not an owner, or an `upload_ids` entry that is not a pending upload of the caller's (nothing is stored)", body = crate::openapi::ErrorBody),
        (status = 409, description = "client_turn_id reused for another message", body = crate::openapi::ErrorBody),
        (status = 413, description = "Message too large", body = crate::openapi::ErrorBody),
        (status = 429, description = "Too many turns queued (`too_many_queued`), or the daily token budget is spent (`budget_exceeded`, `PALIADIN_DAILY_TOKEN_BUDGET_PER_USER`)", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn post_turn(
    State(st): State<AppState>,
    Owner(user): Owner,
    JsonBody(req): JsonBody<TurnRequest>,
) -> Result<Json<TurnResponse>, AppError> {
    let v = validate(req, st.config.upload_max_per_turn as usize)?;
    // A retry of an earlier `client_turn_id` is found under the user's lock in the enqueue
    // (before the cap), and answered below with that turn.
    // Without a session_id, the turn continues the owner's latest conversation (its agent
    // remembers it), read under the user's lock in the enqueue; an owner with no turn yet
    // starts one.
    match enqueue(&st, user.id, v.session_id, TurnKind::Message, &v).await? {
        Some(row) => Ok(Json(TurnResponse::of(&row))),
        None => {
            // A retry, or a race with a concurrent retry of the same client_turn_id.
            let c = v.client_turn_id.as_deref().unwrap_or_default();
            let row = turns::by_client_id(&st.pool, user.id, c)
                .await?
                .ok_or(AppError::NotFound)?;
            same_request(&row, &v).map(Json)
        }
    }
}

/// Enqueues a message or reset turn ([`paliadin_shared::db::enqueue`]). `None` =
/// client_turn_id taken.
pub async fn enqueue(
    st: &AppState,
    user: Uuid,
    session_id: Option<Uuid>,
    kind: TurnKind,
    v: &Valid,
) -> Result<Option<turns::TurnRow>, AppError> {
    let req = Enqueue {
        user,
        session_id,
        kind,
        message: &v.message,
        page_origin: v.page_origin.as_deref(),
        client_turn_id: v.client_turn_id.as_deref(),
        max_queued: st.config.max_queued_per_user,
        fallback_host: &st.default_host,
        daily_token_budget: st.config.daily_token_budget_per_user,
        uploads: &v.uploads,
    };
    let row = match enqueue::enqueue(&st.pool, &st.queue, &req).await? {
        Enqueued::Queued(row) => *row,
        Enqueued::ClientIdTaken => return Ok(None),
        Enqueued::TooMany => {
            return Err(AppError::TooManyQueued(format!(
                "you already have {} turns waiting; wait for them to finish",
                st.config.max_queued_per_user
            )));
        }
        Enqueued::OverBudget { used } => {
            return Err(AppError::BudgetExceeded(format!(
                "your turns used {used} model tokens today, at or over the daily budget of {}; \
                 new messages are accepted again after midnight UTC",
                st.config.daily_token_budget_per_user.unwrap_or_default()
            )));
        }
        // Unknown, another owner's, or already sent with a turn: all the same 404.
        Enqueued::UnknownUpload => return Err(AppError::NotFound),
    };
    st.metrics
        .turns_enqueued
        .with_label_values(&[kind.as_str()])
        .inc();
    tracing::info!(turn_id = %row.id, user = %user, host = %row.host, %kind, "turn enqueued");
    Ok(Some(row))
}

/// Builds the `Valid` for a reset turn (no user text).
pub fn reset_request() -> Valid {
    Valid {
        message: UserMessage::parse("/reset").expect("static message"),
        session_id: None,
        page_origin: None,
        client_turn_id: None,
        uploads: Vec::new(),
    }
}

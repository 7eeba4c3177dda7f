//! `POST /api/paliadin/turn/{turn_id}/permission/{request_id}`: the owner answers what their
//! agent asked (a `permission` event). Recorded once in PostgreSQL with its
//! `permission_decided` event; the worker holding the turn is woken and passes it on.

use crate::auth::Owner;
use crate::error::AppError;
use crate::routes::json::JsonBody;
use crate::routes::turns::turn_id;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use paliadin_shared::db::permissions::{self, Decided};
use paliadin_shared::domain::permission::{
    DecidedBy, Decision, PermissionAnswer, decision_message,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The owner's answer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// `allow` or `deny`; `allow_always` only where the request's `options` offer it.
    pub decision: Decision,
    /// Said to the agent (with a denial, why); at most 1000 characters.
    #[serde(default)]
    pub message: Option<String>,
}

/// What was recorded.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DecisionRecorded {
    pub ok: bool,
    pub request_id: Uuid,
    pub decision: Decision,
}

/// Answers a permission request of one of the caller's turns.
#[utoipa::path(post, path = "/api/paliadin/turn/{turn_id}/permission/{request_id}", tag = "owner",
    params(
        ("turn_id" = Uuid, Path, description = "The turn id"),
        ("request_id" = Uuid, Path, description = "The `request_id` of the turn's `permission` event"),
    ),
    request_body = DecisionBody,
    responses(
        (status = 200, description = "Recorded; a `permission_decided` event follows on the turn's stream", body = DecisionRecorded),
        (status = 400, description = "Invalid body or message, or an option the agent did not offer", body = crate::openapi::ErrorBody),
        (status = 404, description = "Unknown turn or request, or not the caller's", body = crate::openapi::ErrorBody),
        (status = 409, description = "Already decided, expired, or the turn has ended", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn decide(
    State(st): State<AppState>,
    Owner(user): Owner,
    Path((raw_turn, raw_request)): Path<(String, String)>,
    JsonBody(body): JsonBody<DecisionBody>,
) -> Result<Json<DecisionRecorded>, AppError> {
    let turn = turn_id(&raw_turn)?;
    let request = turn_id(&raw_request)?;
    let message = decision_message(body.message.as_deref().unwrap_or(""))
        .map_err(|m| AppError::BadRequest("invalid_message", m))?;
    if body.decision == Decision::AllowAlways {
        // Only where the agent offered it; a missing request is still a 404 below.
        let stored = permissions::read(&st.pool, request).await?;
        if stored.is_some_and(|r| r.turn_id == turn && !r.offers(Decision::AllowAlways)) {
            return Err(AppError::BadRequest(
                "invalid_decision",
                "the agent did not offer `allow_always` for this request".into(),
            ));
        }
    }
    let answer = PermissionAnswer {
        decision: body.decision,
        message,
        by: DecidedBy::Owner,
    };
    match permissions::decide(&st.pool, Some(user.id), turn, request, &answer).await? {
        Decided::Decided(row) => {
            tracing::info!(turn_id = %turn, n = row.n, decision = %body.decision, "permission decided");
            Ok(Json(DecisionRecorded {
                ok: true,
                request_id: row.request_id,
                decision: body.decision,
            }))
        }
        Decided::NotFound => Err(AppError::NotFound),
        Decided::AlreadyDecided(row) => Err(AppError::Conflict(format!(
            "this request was already decided: {}",
            row.decision.map_or("?", |d| d.as_str())
        ))),
        Decided::Expired => Err(AppError::Conflict(
            "this request expired; the agent was told no".into(),
        )),
        Decided::TurnFinished => Err(AppError::Conflict(
            "the turn has ended; nothing is waiting for this answer".into(),
        )),
    }
}

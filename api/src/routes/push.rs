//! Web Push routes (owners only; everyone else gets the plain 404): the VAPID public key the
//! page subscribes with, and the caller's browser subscriptions (add, remove).

use crate::auth::Owner;
use crate::error::AppError;
use crate::push::subscription::{Subscription, SubscriptionBody};
use crate::routes::json::JsonBody;
use crate::routes::turns::turn_id;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use paliadin_shared::db::push::{self, Subscribed};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The VAPID public key.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushKey {
    /// base64url (no padding) of the 65-byte uncompressed P-256 point: the
    /// `applicationServerKey` of `pushManager.subscribe`.
    pub public_key: String,
}

/// A stored subscription.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubscriptionSaved {
    /// Use it to remove the subscription.
    pub id: Uuid,
    /// False when this browser (endpoint) was subscribed already and its keys were updated.
    pub created: bool,
}

/// `GET /api/paliadin/push/key`.
#[utoipa::path(get, path = "/api/paliadin/push/key", tag = "owner",
    responses(
        (status = 200, description = "The server's VAPID public key", body = PushKey),
        (status = 404, description = "Not an owner", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn key(State(st): State<AppState>, Owner(_): Owner) -> Json<PushKey> {
    Json(PushKey {
        public_key: st.push.vapid.public_key().to_owned(),
    })
}

/// `POST /api/paliadin/push/subscriptions`: the browser's `PushSubscription` JSON.
#[utoipa::path(post, path = "/api/paliadin/push/subscriptions", tag = "owner",
    request_body = SubscriptionBody,
    responses(
        (status = 200, description = "Stored (or its keys updated); pushes for the caller's turns go to it", body = SubscriptionSaved),
        (status = 400, description = "`invalid_subscription` (endpoint not https, keys of the wrong form) or `invalid_json`", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not an owner", body = crate::openapi::ErrorBody),
        (status = 409, description = "The caller has the most subscriptions allowed already", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn subscribe(
    State(st): State<AppState>,
    Owner(user): Owner,
    JsonBody(body): JsonBody<SubscriptionBody>,
) -> Result<Json<SubscriptionSaved>, AppError> {
    let sub = Subscription::parse(&body, st.config.push_allow_loopback_http)
        .map_err(|m| AppError::BadRequest("invalid_subscription", m))?;
    let cap = st.config.push_max_subscriptions;
    let done = push::subscribe(
        &st.pool,
        user.id,
        &sub.endpoint,
        &sub.p256dh,
        &sub.auth,
        cap,
    )
    .await?;
    match done {
        Subscribed::Created(id) => {
            tracing::info!(user = %user.id, "push subscription added");
            Ok(Json(SubscriptionSaved { id, created: true }))
        }
        Subscribed::Updated(id) => Ok(Json(SubscriptionSaved { id, created: false })),
        Subscribed::TooMany => Err(AppError::Conflict(format!(
            "at most {cap} browsers can receive notifications; turn them off in one first"
        ))),
    }
}

/// `DELETE /api/paliadin/push/subscriptions/{id}`.
#[utoipa::path(delete, path = "/api/paliadin/push/subscriptions/{id}", tag = "owner",
    params(("id" = Uuid, Path, description = "The id `POST /api/paliadin/push/subscriptions` returned")),
    responses(
        (status = 200, description = "Removed, with its unsent pushes", body = crate::openapi::Ok),
        (status = 404, description = "Unknown subscription, or not the caller's", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn unsubscribe(
    State(st): State<AppState>,
    Owner(user): Owner,
    Path(raw): Path<String>,
) -> Result<Json<crate::openapi::Ok>, AppError> {
    let id = turn_id(&raw)?;
    if push::unsubscribe(&st.pool, user.id, id).await? {
        tracing::info!(user = %user.id, "push subscription removed");
        Ok(Json(crate::openapi::Ok { ok: true }))
    } else {
        Err(AppError::NotFound)
    }
}

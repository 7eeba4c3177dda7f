//! Liveness and readiness probes.

use crate::error::AppError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

/// `GET /healthz`: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "The process answers", body = crate::openapi::Ok)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "ok": true }))
}

/// `GET /readyz`: the database is reachable and migrated.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "Ready", body = crate::openapi::Ok),
    (status = 503, description = "Database unreachable or not migrated", body = crate::openapi::ErrorBody)))]
pub async fn readyz(State(st): State<AppState>) -> Result<Json<Value>, AppError> {
    // Anyone may ask: the cause goes to the log, the answer stays the same.
    paliadin_shared::db::ready(&st.pool).await.map_err(|e| {
        tracing::warn!(error = %e, "not ready");
        AppError::NotReady("the database is unreachable or not migrated".to_owned())
    })?;
    Ok(Json(json!({ "ok": true })))
}

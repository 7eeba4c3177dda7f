//! `AppError`: the one error type handlers return, rendered as the ⚑ error JSON
//! `{"error": "<code>", "message": "<human text>"}`. Internal errors are logged, never leaked.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{1}")]
    BadRequest(&'static str, String),
    /// Unknown, not yours, or not allowed: all look the same.
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    TooManyQueued(String),
    #[error("{0}")]
    TooManyStreams(String),
    /// The owner's daily model token budget is spent (`PALIADIN_DAILY_TOKEN_BUDGET_PER_USER`).
    #[error("{0}")]
    BudgetExceeded(String),
    /// The owner holds `PALIADIN_UPLOAD_MAX_PENDING` uploads no turn took yet.
    #[error("{0}")]
    TooManyUploads(String),
    #[error("{0}")]
    NotReady(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<paliadin_shared::db::DbError> for AppError {
    fn from(e: paliadin_shared::db::DbError) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<pgmq::errors::PgmqError> for AppError {
    fn from(e: pgmq::errors::PgmqError) -> Self {
        AppError::Internal(e.into())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            AppError::BadRequest(code, m) => (StatusCode::BAD_REQUEST, *code, m.clone()),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found", "not found".to_owned()),
            AppError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m.clone()),
            AppError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", m.clone()),
            AppError::TooManyQueued(m) => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_queued", m.clone())
            }
            AppError::TooManyStreams(m) => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_streams", m.clone())
            }
            AppError::BudgetExceeded(m) => {
                (StatusCode::TOO_MANY_REQUESTS, "budget_exceeded", m.clone())
            }
            AppError::TooManyUploads(m) => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_uploads", m.clone())
            }
            AppError::NotReady(m) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready", m.clone()),
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error".to_owned(),
                )
            }
        };
        (status, Json(json!({ "error": code, "message": message }))).into_response()
    }
}

/// The ⚑ body for a plain 404, shared by the fallback and the gates.
pub fn not_found() -> Response {
    AppError::NotFound.into_response()
}

//! `GET /paliadin` and `GET /paliadin/c/{session_id}`: the owner's chat page. It is a static
//! shell (the conversation is loaded by `chat.js` from the JSON API), served only to owners:
//! anyone else gets exactly the 404 of an unrouted path, so the page "does not exist" for them.
//!
//! `/paliadin/c/{session_id}` is the same shell: the page opens that conversation (a turn is
//! named by the fragment, `#turn-<turn_id>`, which never reaches the server). Only the id's
//! form is checked here (anything but a lowercase hyphenated UUID is the plain 404); whose conversation it is is not,
//! so the answer is the same for the caller's, another owner's and an unknown conversation —
//! the page then asks the history API, which shows the caller only their own turns.

use crate::auth::Owner;
use crate::error::AppError;
use crate::web::{assets, html};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::LazyLock;
use uuid::Uuid;

const CHAT_HTML: &str = include_str!("../../assets/chat.html");
static CHAT_PAGE: LazyLock<String> = LazyLock::new(|| assets::versioned(CHAT_HTML));

/// `GET /paliadin` (owner).
pub async fn chat(Owner(_): Owner) -> Response {
    html(StatusCode::OK, CHAT_PAGE.clone())
}

/// `GET /paliadin/c/{session_id}` (owner): the chat page on one conversation.
pub async fn conversation(Owner(_): Owner, Path(raw): Path<String>) -> Result<Response, AppError> {
    // Only the form links are made in (lowercase, hyphenated): one URL per conversation.
    match Uuid::parse_str(&raw) {
        Ok(id) if id.hyphenated().to_string() == raw => Ok(html(StatusCode::OK, CHAT_PAGE.clone())),
        _ => Err(AppError::NotFound),
    }
}

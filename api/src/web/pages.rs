//! `GET /paliadin`: the owner's chat page. It is a static shell (the conversation is loaded by
//! `chat.js` from the JSON API), served only to owners: anyone else gets exactly the 404 of an
//! unrouted path, so the page "does not exist" for them.

use crate::auth::Owner;
use crate::web::{assets, html};
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::LazyLock;

const CHAT_HTML: &str = include_str!("../../assets/chat.html");
static CHAT_PAGE: LazyLock<String> = LazyLock::new(|| assets::versioned(CHAT_HTML));

/// `GET /paliadin` (owner).
pub async fn chat(Owner(_): Owner) -> Response {
    html(StatusCode::OK, CHAT_PAGE.clone())
}

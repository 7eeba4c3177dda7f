//! `GET /api/paliadin/conversations?limit=&before=&q=`: the owner's conversations (their turns
//! grouped by `session_id`), newest activity first, paged, searchable over their own messages
//! and replies. The chat page's sidebar. `DELETE /api/paliadin/conversations/{session_id}`:
//! forgets one.

use crate::auth::Owner;
use crate::error::AppError;
use crate::routes::turns::parse_limit;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};

use chrono::{DateTime, Utc};
use paliadin_shared::TurnState;
use paliadin_shared::db::conversations::{self, ConversationRow, Cursor, Forgot};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest search text, in characters.
const MAX_QUERY_CHARS: usize = 200;
/// Titles are the first message cut to this many characters.
const TITLE_CHARS: usize = 80;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationsQuery {
    /// 1..=100, default 30.
    pub limit: Option<String>,
    /// The `next_before` of the previous page.
    pub before: Option<String>,
    /// Only conversations whose messages or replies contain this text (case-insensitive,
    /// 1..=200 characters).
    pub q: Option<String>,
}

/// What a conversation is doing: `running` (a turn runs), `waiting` (a running turn waits for
/// the person: a permission request), `queued` (a turn is queued, none runs), `idle` (no turn is
/// queued or running and its agent is live, or its host does not say: then `window.live` is
/// `null`), `stopped` (no turn is queued or running and its agent was stopped: its next turn
/// resumes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConversationState {
    Running,
    Waiting,
    Queued,
    Idle,
    Stopped,
}

/// The conversation's agent: a window of its owner's tmux session on a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentWindow {
    /// The window's name, `c-<32 hex of the conversation id>`.
    pub name: String,
    /// The host of the conversation's newest turn: where its agent runs (or ran).
    pub host: String,
    /// Whether the agent is live, as the host last listed its agents (a turn that ended since
    /// counts as live); `null`: the host does not report its agents (e.g. an SSH host).
    pub live: Option<bool>,
}

/// One conversation in the list.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Conversation {
    pub session_id: Uuid,
    /// The first message, shortened (one line, at most 80 characters).
    pub title: String,
    pub last_activity: DateTime<Utc>,
    pub state: ConversationState,
    /// The newest turn failed.
    pub last_failed: bool,
    /// Its agent's window.
    pub window: AgentWindow,
    pub turns: i64,
}

/// The name of `conversation`'s agent window: `c-<32 hex>`.
pub fn window_name(conversation: Uuid) -> String {
    format!(
        "{}{}",
        paliadin_shared::domain::WINDOW_PREFIX,
        conversation.simple()
    )
}

/// A page of conversations.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationPage {
    pub items: Vec<Conversation>,
    /// Pass as `before` for the next page; `null` on the last page.
    pub next_before: Option<String>,
}

#[utoipa::path(get, path = "/api/paliadin/conversations", tag = "owner", params(ConversationsQuery),
    responses(
        (status = 200, description = "The caller's conversations, newest activity first", body = ConversationPage),
        (status = 400, description = "Invalid limit, cursor or search text", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not an owner", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn list(
    State(st): State<AppState>,
    Owner(user): Owner,
    Query(q): Query<ConversationsQuery>,
) -> Result<Json<ConversationPage>, AppError> {
    let limit = parse_limit(q.limit.as_deref(), 30, 100)?;
    let before = q.before.as_deref().map(parse_cursor).transpose()?;
    let search = match q.q.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) if s.chars().count() > MAX_QUERY_CHARS => {
            return Err(AppError::BadRequest(
                "invalid_query",
                format!("q must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        Some(s) if s.chars().any(char::is_control) => {
            return Err(AppError::BadRequest(
                "invalid_query",
                "q must not contain control characters".into(),
            ));
        }
        Some(s) => Some(s),
    };
    let rows = conversations::list(&st.pool, user.id, before, search, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<Conversation> = rows.into_iter().take(limit as usize).map(view).collect();
    let next_before = more
        .then(|| items.last())
        .flatten()
        .map(|c| render_cursor(c.last_activity, c.session_id));
    Ok(Json(ConversationPage { items, next_before }))
}

#[utoipa::path(delete, path = "/api/paliadin/conversations/{session_id}", tag = "owner",
    params(("session_id" = Uuid, Path, description = "The conversation")),
    responses(
        (status = 200, description = "`{ok: true, deleted_turns}`: its turns, events and permission requests are gone", body = Object),
        (status = 404, description = "No such conversation of the caller's (or not an owner)", body = crate::openapi::ErrorBody),
        (status = 409, description = "A turn of it is queued or running: cancel it first", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn forget(
    State(st): State<AppState>,
    Owner(user): Owner,
    Path(raw): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    // Another owner's conversation, or no conversation at all, is the same 404.
    let id = Uuid::parse_str(&raw).map_err(|_| AppError::NotFound)?;
    match conversations::forget(&st.pool, user.id, id).await? {
        Forgot::Deleted(n) => {
            tracing::info!(user = %user.id, session_id = %id, turns = n, "conversation forgotten");
            Ok(Json(serde_json::json!({ "ok": true, "deleted_turns": n })))
        }
        Forgot::Busy => Err(AppError::Conflict(
            "a turn of this conversation is still queued or running: cancel it first".into(),
        )),
        Forgot::Unknown => Err(AppError::NotFound),
    }
}

fn view(r: ConversationRow) -> Conversation {
    let state = if r.waiting {
        ConversationState::Waiting
    } else if r.running {
        ConversationState::Running
    } else if r.active {
        ConversationState::Queued
    } else if r.agent_live == Some(false) {
        ConversationState::Stopped
    } else {
        ConversationState::Idle
    };
    Conversation {
        session_id: r.session_id,
        title: title(&r.first_message),
        last_activity: r.last_activity,
        state,
        last_failed: r.last_state == TurnState::Failed,
        window: AgentWindow {
            name: window_name(r.session_id),
            host: r.host,
            live: r.agent_live,
        },
        turns: r.turns,
    }
}

/// The first line of the first message, at most [`TITLE_CHARS`] characters (`…` when cut).
fn title(message: &str) -> String {
    let line = message.trim().lines().next().unwrap_or("").trim();
    match line.char_indices().nth(TITLE_CHARS) {
        Some((i, _)) => format!("{}…", line[..i].trim_end()),
        None => line.to_owned(),
    }
}

/// `<RFC 3339 with microseconds>_<session uuid>`.
fn render_cursor(at: DateTime<Utc>, session: Uuid) -> String {
    format!(
        "{}_{session}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    )
}

fn parse_cursor(raw: &str) -> Result<Cursor, AppError> {
    let bad = || {
        AppError::BadRequest(
            "invalid_cursor",
            "before must be a next_before value from a previous page".into(),
        )
    };
    let (at, session) = raw.rsplit_once('_').ok_or_else(bad)?;
    Ok(Cursor {
        last_activity: DateTime::parse_from_rfc3339(at)
            .map_err(|_| bad())?
            .with_timezone(&Utc),
        session_id: Uuid::parse_str(session).map_err(|_| bad())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_named_for_their_conversation() {
        let id = Uuid::parse_str("0badcafe-0000-4000-8000-000000000001").unwrap();
        assert_eq!(window_name(id), "c-0badcafe000040008000000000000001");
    }

    #[test]
    fn titles_are_one_short_line() {
        assert_eq!(title("  hello\nworld"), "hello");
        let long = "é".repeat(100);
        assert_eq!(title(&long).chars().count(), TITLE_CHARS + 1);
        assert_eq!(title(""), "");
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let at = DateTime::parse_from_rfc3339("2026-11-29T10:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = Uuid::now_v7();
        let c = parse_cursor(&render_cursor(at, id)).unwrap();
        assert_eq!((c.last_activity, c.session_id), (at, id));
        for bad in [
            "",
            "x",
            "2026-11-29T10:00:00Z",
            "nope_0190c3a2-7b1e-7c4d-9f00-123456789abc",
        ] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }
}

//! SQL for the admin's view of turns (all users): recent turns with filters, and one turn.
//!
//! Admins operate the service; they do not read conversations. These rows carry sizes, timings
//! and outcomes, never the user's message or the reply text (the API also redacts event bodies).

use crate::domain::{TurnKind, TurnState};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

/// One turn as the admin sees it.
#[derive(Debug, Clone, Serialize, Deserialize, FromRow, ToSchema)]
pub struct AdminTurn {
    pub id: Uuid,
    pub user_id: Uuid,
    pub user_email: String,
    pub session_id: Uuid,
    pub kind: TurnKind,
    pub state: TurnState,
    pub attempt: i32,
    #[schema(value_type = String)]
    pub host: crate::domain::HostName,
    pub worker_id: Option<String>,
    pub queued_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `claimed_at - queued_at`.
    pub queue_wait_ms: Option<f64>,
    /// `finished_at - queued_at`.
    pub end_to_end_ms: Option<f64>,
    /// Length of the user's message, in characters.
    pub message_chars: i32,
    /// Length of the reply, in characters.
    pub reply_chars: Option<i32>,
    pub used_tools: Option<Vec<String>>,
    pub rows_seen: Option<i32>,
    pub chip_count: Option<i32>,
    pub classifier_tag: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Events written so far.
    pub last_seq: i32,
    /// The kind of agent that answered (`claude`, `codex`, `demo`, `other`); None when none
    /// did or its worker did not record it.
    pub agent: Option<crate::domain::AgentKind>,
}

const COLS: &str = "SELECT t.id, t.user_id, u.email AS user_email, t.session_id, t.kind, t.state,
        t.attempt, t.host, t.worker_id, t.queued_at, t.claimed_at, t.delivered_at, t.finished_at,
        date_part('epoch', t.claimed_at - t.queued_at) * 1000 AS queue_wait_ms,
        date_part('epoch', t.finished_at - t.queued_at) * 1000 AS end_to_end_ms,
        char_length(t.message) AS message_chars, char_length(t.reply_text) AS reply_chars,
        t.used_tools, t.rows_seen, t.chip_count, t.classifier_tag, t.error_code,
        t.error_message, t.last_seq, t.agent
   FROM turns t JOIN users u ON u.id = t.user_id";

/// Who the `user` filter names.
#[derive(Debug, Clone)]
pub enum UserFilter {
    Id(Uuid),
    Email(String),
}

/// Filters of the recent-turns list (validated by the caller).
#[derive(Debug, Clone, Default)]
pub struct RecentFilter {
    pub state: Option<TurnState>,
    pub user: Option<UserFilter>,
    pub limit: i64,
}

/// The newest turns matching `f`, newest first. Only the filters given become conditions, so
/// each combination gets its own plan (by `turns_queued_at`, or by the user's index).
pub async fn list(pool: &PgPool, f: &RecentFilter) -> Result<Vec<AdminTurn>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(COLS);
    q.push(" WHERE true");
    if let Some(state) = &f.state {
        q.push(" AND t.state = ").push_bind(*state);
    }
    match &f.user {
        Some(UserFilter::Id(id)) => {
            q.push(" AND t.user_id = ").push_bind(*id);
        }
        Some(UserFilter::Email(email)) => {
            q.push(" AND u.email = ").push_bind(email.clone());
        }
        None => {}
    }
    q.push(" ORDER BY t.queued_at DESC, t.id DESC LIMIT ")
        .push_bind(f.limit);
    q.build_query_as().fetch_all(pool).await
}

/// One turn of any user.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<AdminTurn>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(COLS);
    q.push(" WHERE t.id = ").push_bind(id);
    q.build_query_as().fetch_optional(pool).await
}

//! SQL of permission requests (`turn_permissions`): the worker holding a turn opens one, fenced
//! by its attempt, together with its `permission` event; the owner (through the API) or the
//! expiry decides it, together with its `permission_decided` event and a NOTIFY on
//! [`PERMISSION_CHANNEL`] that wakes the worker holding the turn.

use super::{PERMISSION_CHANNEL, events, fenced};
use crate::domain::permission::{DecidedBy, Decision, PermissionAnswer, PermissionAsk};
use crate::events::{EventKind, NewEvent};
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{FromRow, PgPool};
use std::time::Duration;
use uuid::Uuid;

macro_rules! cols {
    () => {
        "p.turn_id, p.n, p.request_id, p.tool, p.summary, p.options, p.created_at, p.expires_at,
         p.decision, p.decided_by, p.message"
    };
}

/// One stored request.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct PermissionRow {
    pub turn_id: Uuid,
    pub n: i32,
    pub request_id: Uuid,
    pub tool: String,
    pub summary: String,
    pub options: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub decision: Option<Decision>,
    pub decided_by: Option<DecidedBy>,
    pub message: Option<String>,
}

impl PermissionRow {
    /// The decision, once there is one.
    pub fn answer(&self) -> Option<PermissionAnswer> {
        Some(PermissionAnswer {
            decision: self.decision?,
            message: self.message.clone(),
            by: self.decided_by?,
        })
    }

    /// Whether the agent offered this answer.
    pub fn offers(&self, d: Decision) -> bool {
        self.options.iter().any(|o| o == d.as_str())
    }

    /// The ⚑ `permission` event.
    pub fn event(&self) -> NewEvent {
        NewEvent {
            kind: EventKind::Permission,
            data: json!({
                "request_id": self.request_id,
                "n": self.n,
                "tool": self.tool,
                "summary": self.summary,
                "options": self.options,
                "expires_at": self.expires_at,
            }),
        }
    }
}

/// Opens request `n` of a turn for the attempt that holds it, with its `permission` event, or
/// returns the one already open (a takeover re-reads the agent's request file: no second event).
/// `None` when the attempt is fenced out.
pub async fn open(
    pool: &PgPool,
    turn_id: Uuid,
    attempt: i32,
    n: i32,
    ask: &PermissionAsk,
    wait: Duration,
) -> Result<Option<PermissionRow>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if fenced::lock_fence(&mut tx, turn_id, attempt)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let options: Vec<&str> = ask.options.iter().map(|d| d.as_str()).collect();
    let inserted: Option<PermissionRow> = sqlx::query_as(concat!(
        "INSERT INTO turn_permissions AS p (turn_id, n, request_id, tool, summary, options, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp() + make_interval(secs => $7))
         ON CONFLICT (turn_id, n) DO NOTHING RETURNING ",
        cols!()
    ))
    .bind(turn_id)
    .bind(n)
    .bind(Uuid::new_v4())
    .bind(&ask.tool)
    .bind(&ask.summary)
    .bind(&options)
    .bind(wait.as_secs_f64())
    .fetch_optional(&mut *tx)
    .await?;
    let row = match inserted {
        Some(row) => {
            if events::append(&mut tx, turn_id, Some(attempt), &row.event())
                .await?
                .is_none()
            {
                return Ok(None);
            }
            row
        }
        None => {
            sqlx::query_as(concat!(
                "SELECT ",
                cols!(),
                " FROM turn_permissions p WHERE p.turn_id = $1 AND p.n = $2"
            ))
            .bind(turn_id)
            .bind(n)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    tx.commit().await?;
    Ok(Some(row))
}

/// A request as stored now.
pub async fn read(pool: &PgPool, request_id: Uuid) -> Result<Option<PermissionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM turn_permissions p WHERE p.request_id = $1"
    ))
    .bind(request_id)
    .fetch_optional(pool)
    .await
}

/// What [`decide`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Decided {
    /// No such request on that turn (for that owner).
    NotFound,
    /// It was decided before (the stored decision is in the row).
    AlreadyDecided(PermissionRow),
    /// Its time ran out (the worker denies it).
    Expired,
    /// The turn ended (cancelled, timed out, failed) before anyone decided.
    TurnFinished,
    /// Recorded now.
    Decided(PermissionRow),
}

#[derive(FromRow)]
struct Locked {
    #[sqlx(flatten)]
    row: PermissionRow,
    finished: bool,
    expired: bool,
}

/// Records a decision on request `request_id` of turn `turn_id`, once. `owner = Some(user)`
/// is the API (the turn must be that user's, and the request not expired); `None` is the
/// worker's expiry. Writes the `permission_decided` event and wakes the worker, in one
/// transaction.
pub async fn decide(
    pool: &PgPool,
    owner: Option<Uuid>,
    turn_id: Uuid,
    request_id: Uuid,
    answer: &PermissionAnswer,
) -> Result<Decided, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let locked: Option<Locked> = sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        ", t.state NOT IN ('queued', 'running') AS finished,
           p.expires_at <= clock_timestamp() AS expired
          FROM turn_permissions p JOIN turns t ON t.id = p.turn_id
         WHERE p.turn_id = $1 AND p.request_id = $2 AND ($3::uuid IS NULL OR t.user_id = $3)
           FOR UPDATE OF p"
    ))
    .bind(turn_id)
    .bind(request_id)
    .bind(owner)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(locked) = locked else {
        return Ok(Decided::NotFound);
    };
    if locked.row.decision.is_some() {
        return Ok(Decided::AlreadyDecided(locked.row));
    }
    if locked.finished {
        return Ok(Decided::TurnFinished);
    }
    if owner.is_some() && locked.expired {
        return Ok(Decided::Expired);
    }
    let row: PermissionRow = sqlx::query_as(concat!(
        "UPDATE turn_permissions AS p SET decision = $3, decided_by = $4, message = $5,
                decided_at = clock_timestamp()
          WHERE p.turn_id = $1 AND p.request_id = $2 RETURNING ",
        cols!()
    ))
    .bind(turn_id)
    .bind(request_id)
    .bind(answer.decision.as_str())
    .bind(answer.by.as_str())
    .bind(&answer.message)
    .fetch_one(&mut *tx)
    .await?;
    let event = NewEvent {
        kind: EventKind::PermissionDecided,
        data: json!({
            "request_id": row.request_id,
            "n": row.n,
            "decision": answer.decision,
            "by": answer.by,
            "message": answer.message,
        }),
    };
    events::append(&mut tx, turn_id, None, &event).await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(PERMISSION_CHANNEL)
        .bind(turn_id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Decided::Decided(row))
}

/// Running turns waiting for a decision, and how long the oldest has waited (seconds).
pub async fn waiting(pool: &PgPool) -> Result<(i64, Option<f64>), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(DISTINCT p.turn_id),
                extract(epoch FROM clock_timestamp() - min(p.created_at))::float8
           FROM turn_permissions p JOIN turns t ON t.id = p.turn_id
          WHERE p.decision IS NULL AND t.state = 'running'",
    )
    .fetch_one(pool)
    .await
}

/// The undecided requests of one owner's turns (the page shows them after a reload).
pub async fn open_of_turn(pool: &PgPool, turn_id: Uuid) -> Result<Vec<PermissionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        cols!(),
        " FROM turn_permissions p WHERE p.turn_id = $1 AND p.decision IS NULL ORDER BY p.n"
    ))
    .bind(turn_id)
    .fetch_all(pool)
    .await
}

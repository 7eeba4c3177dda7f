//! A person's cancel of a turn. A queued turn is cancelled at once: its state, its `cancelled`
//! event and the removal of its queue message commit together ([`cancel_queued`]). A running
//! turn is flagged ([`request_cancel`]) and its worker, woken on `paliadin_cancel`, interrupts
//! the agent and writes the terminal event itself.

use super::append::{self, append_sql};
use super::turns::{TurnRow, cols};
use super::{CANCEL_CHANNEL, DbError};
use crate::events::NewEvent;
use crate::queue::TurnQueue;
use sqlx::PgPool;
use uuid::Uuid;

/// Cancels `user`'s turn `id` if it is still queued, in one transaction: the row becomes
/// `cancelled`, its `cancelled` event is appended (with its NOTIFY) in the same statement,
/// and its queue message is deleted. False: the turn was not queued (or not the user's).
pub async fn cancel_queued(
    pool: &PgPool,
    queue: &TurnQueue,
    id: Uuid,
    user: Uuid,
) -> Result<bool, DbError> {
    let mut tx = pool.begin().await?;
    let sql = append_sql!(
        set: ", state = 'cancelled', finished_at = clock_timestamp(), cancel_requested = true",
        filter: "AND user_id = $6 AND state = 'queued'",
        returning: concat!(", ", cols!()),
        with: "",
        select: concat!(", ", cols!()),
    );
    let event = NewEvent::cancelled();
    let row: Option<CancelledRow> =
        append::bind(sqlx::query_as(sql), id, None, std::slice::from_ref(&event))
            .bind(user)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(CancelledRow { turn, .. }) = row else {
        return Ok(false);
    };
    if let Some(msg_id) = turn.msg_id {
        queue.delete(&mut tx, &turn.host, msg_id).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The row [`cancel_queued`]'s statement returns: the appended event's seq, then the turn.
#[derive(sqlx::FromRow)]
struct CancelledRow {
    #[allow(dead_code)]
    seq: Option<i32>,
    #[sqlx(flatten)]
    turn: TurnRow,
}

/// Flags `user`'s running turn for cancellation and wakes its worker (`paliadin_cancel`);
/// false: the turn is not running (or not the user's).
pub async fn request_cancel(pool: &PgPool, id: Uuid, user: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE turns SET cancel_requested = true WHERE id = $1 AND user_id = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(user)
    .execute(pool)
    .await?;
    if done.rows_affected() == 1 {
        sqlx::query("SELECT pg_notify($1, $2::text)")
            .bind(CANCEL_CHANNEL)
            .bind(id)
            .execute(pool)
            .await?;
    }
    Ok(done.rows_affected() == 1)
}

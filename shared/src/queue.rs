//! The turn queues: one pgmq queue per tmux host (`turns_<host>`), each message carrying a turn
//! id and the header `x-pgmq-group = <user_id>` so that reading group heads serialises a user's
//! turns: `paliadin_read_heads` (pgmq's `read_grouped_head` contract, walking a group-head index
//! instead of grouping the whole queue; migration `20261201000002_queue_heads.sql`).
//!
//! pgmq's `delete`/`archive`/`set_vt` match on `msg_id` only; callers fence them with the turn's
//! attempt in the same transaction (see `db::fenced`).

use crate::domain::HostName;
use pgmq::PGMQueueExt;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use std::collections::HashSet;
use std::sync::Mutex;
use uuid::Uuid;

/// The statement every turn message is sent with: `$1` queue, `$2` body, `$3` headers
/// ([`TurnQueue::payload`]); returns the message id.
pub const SEND_SQL: &str = "SELECT pgmq.send($1::text, $2::jsonb, $3::jsonb)";

/// The message body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TurnMessage {
    pub turn_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct GroupHeader {
    #[serde(rename = "x-pgmq-group")]
    group: String,
}

/// A message read from a queue: the lease on a turn, until it is claimed as an
/// [`crate::attempt::Attempt`].
#[derive(Debug, Clone)]
pub struct Leased {
    /// The queue (tmux host) it was read from.
    pub host: HostName,
    pub msg_id: i64,
    pub turn_id: Uuid,
    pub read_ct: i32,
    /// Taken just before the read: the lease runs out no earlier than `read_at + vt`, so a
    /// deadline counted from here is on the safe side.
    pub read_at: tokio::time::Instant,
}

/// Shared by reference (`Arc`); remembers which queues it already created.
pub struct TurnQueue {
    pgmq: PGMQueueExt,
    created: Mutex<HashSet<String>>,
}

impl TurnQueue {
    pub async fn new(pool: PgPool) -> Self {
        TurnQueue {
            pgmq: PGMQueueExt::new_with_pool(pool).await,
            created: Mutex::new(HashSet::new()),
        }
    }

    /// Creates the host's queue if needed (idempotent, serialised by pgmq's queue lock).
    pub async fn ensure(&self, host: &HostName) -> Result<(), pgmq::errors::PgmqError> {
        let name = host.queue_name();
        if self.created.lock().expect("lock").contains(&name) {
            return Ok(());
        }
        let mut tx = self.pgmq.acquire_queue_lock(&name).await?;
        self.pgmq.create_with_cxn(&name, &mut *tx).await?;
        heads_index(&mut tx, &name).await?;
        tx.commit().await?;
        self.created.lock().expect("lock").insert(name);
        Ok(())
    }

    /// Creates the host's queue if needed, on the caller's transaction: never takes a second
    /// connection while the caller holds one (a burst of first enqueues would otherwise
    /// exhaust the pool). A queue seen committed is remembered; one created here becomes
    /// visible with the caller's commit (pgmq's queue lock serialises concurrent creators).
    pub async fn ensure_in(
        &self,
        conn: &mut PgConnection,
        host: &HostName,
    ) -> Result<(), pgmq::errors::PgmqError> {
        let name = host.queue_name();
        if self.created.lock().expect("lock").contains(&name) {
            return Ok(());
        }
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = $1)")
                .bind(&name)
                .fetch_one(&mut *conn)
                .await?;
        if exists {
            self.created.lock().expect("lock").insert(name);
            return Ok(());
        }
        sqlx::query("SELECT pgmq.acquire_queue_lock(queue_name => $1::text)")
            .bind(&name)
            .execute(&mut *conn)
            .await?;
        self.pgmq.create_with_cxn(&name, &mut *conn).await?;
        heads_index(&mut *conn, &name).await?;
        Ok(())
    }

    /// Enqueues a turn on the caller's connection (use the turn row's transaction): the one
    /// way a turn's message is sent, `pgmq.send(queue, body, headers)` with [`Self::payload`];
    /// an enqueue runs the same call inside its insert ([`crate::db::turns::insert_sent`]).
    pub async fn send(
        &self,
        conn: &mut PgConnection,
        host: &HostName,
        turn_id: Uuid,
        user_id: Uuid,
    ) -> Result<i64, pgmq::errors::PgmqError> {
        let (body, headers) = Self::payload(turn_id, user_id);
        Ok(sqlx::query_scalar(SEND_SQL)
            .bind(host.queue_name())
            .bind(body)
            .bind(headers)
            .fetch_one(conn)
            .await?)
    }

    /// The body and headers of a turn's message: `{turn_id}` and the FIFO group header (the
    /// user), for [`SEND_SQL`].
    pub fn payload(turn_id: Uuid, user_id: Uuid) -> (serde_json::Value, serde_json::Value) {
        let header = GroupHeader {
            group: user_id.to_string(),
        };
        (
            serde_json::to_value(TurnMessage { turn_id }).expect("a message serialises"),
            serde_json::to_value(header).expect("a header serialises"),
        )
    }

    /// Reads up to `qty` group heads (at most one per user), leasing each for `vt_secs`.
    pub async fn read_heads(
        &self,
        host: &HostName,
        vt_secs: i32,
        qty: i32,
    ) -> Result<Vec<Leased>, pgmq::errors::PgmqError> {
        let read_at = tokio::time::Instant::now();
        let rows: Vec<(i64, i32, sqlx::types::Json<TurnMessage>)> =
            sqlx::query_as("SELECT msg_id, read_ct, message FROM paliadin_read_heads($1, $2, $3)")
                .bind(host.queue_name())
                .bind(vt_secs)
                .bind(qty)
                .fetch_all(&self.pgmq.connection)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(msg_id, read_ct, message)| Leased {
                host: host.clone(),
                msg_id,
                turn_id: message.0.turn_id,
                read_ct,
                read_at,
            })
            .collect())
    }

    /// Extends a lease. Callers fence it (see module docs).
    pub async fn extend(
        &self,
        conn: &mut PgConnection,
        host: &HostName,
        msg_id: i64,
        vt_secs: i32,
    ) -> Result<bool, pgmq::errors::PgmqError> {
        let m = self
            .pgmq
            .set_vt_with_cxn::<_, serde_json::Value, serde_json::Value>(
                &host.queue_name(),
                msg_id,
                vt_secs,
                conn,
            )
            .await?;
        Ok(m.is_some())
    }

    /// Archives a finished turn's message (in the finishing transaction).
    pub async fn archive(
        &self,
        conn: &mut PgConnection,
        host: &HostName,
        msg_id: i64,
    ) -> Result<bool, pgmq::errors::PgmqError> {
        self.pgmq
            .archive_with_cxn(&host.queue_name(), msg_id, conn)
            .await
    }

    /// Removes a cancelled turn's message before any worker runs it.
    pub async fn delete(
        &self,
        conn: &mut PgConnection,
        host: &HostName,
        msg_id: i64,
    ) -> Result<bool, pgmq::errors::PgmqError> {
        self.pgmq
            .delete_with_cxn(&host.queue_name(), msg_id, conn)
            .await
    }

    /// Deletes this host's archived messages older than `older_than_secs`; returns how many.
    pub async fn prune_archive(
        &self,
        host: &HostName,
        older_than_secs: i64,
    ) -> Result<u64, sqlx::Error> {
        // The table name comes from a validated `HostName` ([a-z0-9_]), never from user text.
        let sql = format!(
            "DELETE FROM pgmq.a_{} WHERE archived_at < now() - make_interval(secs => $1)",
            host.queue_name()
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(older_than_secs as f64)
            .execute(&self.pgmq.connection)
            .await?;
        Ok(done.rows_affected())
    }
}

/// The queue's group-head index, which `paliadin_read_heads` walks instead of scanning the
/// queue (migration `20261201000002_queue_heads.sql`). Idempotent.
async fn heads_index(conn: &mut PgConnection, queue: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT paliadin_queue_heads_index($1)")
        .bind(queue)
        .execute(conn)
        .await
        .map(drop)
}

//! The turn queues: one pgmq queue per tmux host (`turns_<host>`), each message carrying a turn
//! id and the header `x-pgmq-group = <session_id>` (the turn's conversation) so that reading
//! group heads serialises a conversation's turns while the conversations of one owner, like
//! those of different owners, run side by side: [`TurnQueue::heads_sql`] (pgmq's
//! `read_grouped_head` contract, walking a group-head index instead of grouping the whole queue;
//! migration `20261201000002_queue_heads.sql`, whose `paliadin_read_heads` runs the same walk for
//! workers of earlier releases). Releases before migration
//! `20261209000100_conversation_groups.sql` grouped by the owner (`<user_id>`); that migration
//! rewrote the messages they had queued.
//!
//! The statements of every turn (the head read, the enqueue's send, the finish's archive, the
//! lease renewal) are written for each queue's table ([`queue_sql`]) rather than calling pgmq's
//! functions, which plan their SQL again on every call; they read and write the tables as those
//! functions do. pgmq's `delete`/`archive`/`set_vt` match on `msg_id` only; callers fence them
//! with the turn's attempt in the same transaction or statement (see `db::fenced`).

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

/// A statement of one queue with its table names written in: `{q}` is replaced by the queue's
/// table (`q_<queue>`), `{a}` by its archive (`a_<queue>`), as `pgmq.format_table_name` names
/// them. The text is made once per queue and kept, so that each connection prepares it once
/// and reuses its plan; pgmq's functions and `paliadin_read_heads` instead build their SQL with
/// `format()` and plan it again on every call, which cost more than the statements themselves
/// (docs/performance.md, "PostgreSQL per turn"). `queue` is a [`HostName::queue_name`]
/// (`[a-z0-9_]`, never user text).
pub fn queue_sql(template: &'static str, queue: &str) -> &'static str {
    type Made = std::collections::HashMap<(&'static str, String), &'static str>;
    static MADE: std::sync::LazyLock<Mutex<Made>> = std::sync::LazyLock::new(Mutex::default);
    let mut made = MADE.lock().expect("lock");
    let key = (template, queue.to_owned());
    if let Some(sql) = made.get(&key) {
        return sql;
    }
    // Checked in release builds too: this text becomes part of SQL.
    assert!(
        !queue.is_empty()
            && queue
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "not a queue name: {queue:?}"
    );
    let sql = template
        .replace("{q}", &format!("q_{queue}"))
        .replace("{a}", &format!("a_{queue}"));
    // One string per (statement, host) for the life of the process: a handful.
    let sql: &'static str = Box::leak(sql.into_boxed_str());
    made.insert(key, sql);
    sql
}

/// The group heads of a queue, leased (`$1`: seconds, `$2`: at most this many): the statement of
/// `paliadin_read_heads` (migration `20261201000002_queue_heads.sql`), the same semantics, as a
/// [`queue_sql`] template. A group's head is its oldest message, visible or not; at most one
/// message per group, oldest first, skipping rows other readers hold.
const HEADS_SQL: &str = "WITH RECURSIVE heads AS (
        (SELECT COALESCE(headers->>'x-pgmq-group', '_default_fifo_group') AS grp, msg_id
           FROM pgmq.{q}
          ORDER BY COALESCE(headers->>'x-pgmq-group', '_default_fifo_group'), msg_id
          LIMIT 1)
        UNION ALL
        SELECT n.grp, n.msg_id
          FROM heads h,
               LATERAL (SELECT COALESCE(headers->>'x-pgmq-group', '_default_fifo_group') AS grp,
                               msg_id
                          FROM pgmq.{q}
                         WHERE COALESCE(headers->>'x-pgmq-group', '_default_fifo_group') > h.grp
                         ORDER BY COALESCE(headers->>'x-pgmq-group', '_default_fifo_group'), msg_id
                         LIMIT 1) n
    ), selected AS (
        SELECT q.msg_id
          FROM heads h JOIN pgmq.{q} q ON q.msg_id = h.msg_id
         WHERE q.vt <= clock_timestamp()
         ORDER BY q.msg_id
         LIMIT $2
           FOR UPDATE OF q SKIP LOCKED
    )
    UPDATE pgmq.{q} m
       SET vt = clock_timestamp() + make_interval(secs => $1::int), read_ct = read_ct + 1,
           last_read_at = clock_timestamp()
      FROM selected s
     WHERE m.msg_id = s.msg_id
    RETURNING m.msg_id, m.read_ct, m.message";

/// The message body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TurnMessage {
    pub turn_id: Uuid,
}

/// The message's FIFO group: the turn's conversation (`session_id`).
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
    /// `session_id` is the turn's conversation (`turns.session_id`), its group.
    pub async fn send(
        &self,
        conn: &mut PgConnection,
        host: &HostName,
        turn_id: Uuid,
        session_id: Uuid,
    ) -> Result<i64, pgmq::errors::PgmqError> {
        let (body, headers) = Self::payload(turn_id, session_id);
        Ok(sqlx::query_scalar(SEND_SQL)
            .bind(host.queue_name())
            .bind(body)
            .bind(headers)
            .fetch_one(conn)
            .await?)
    }

    /// The body and headers of a turn's message: `{turn_id}` and the FIFO group header (the
    /// turn's conversation, `session_id`: its turns run in order, one at a time, and other
    /// conversations of the same owner alongside), for [`SEND_SQL`].
    pub fn payload(turn_id: Uuid, session_id: Uuid) -> (serde_json::Value, serde_json::Value) {
        let header = GroupHeader {
            group: session_id.to_string(),
        };
        (
            serde_json::to_value(TurnMessage { turn_id }).expect("a message serialises"),
            serde_json::to_value(header).expect("a header serialises"),
        )
    }

    /// The statement [`Self::read_heads`] runs on `host`'s queue: `$1` the lease in seconds,
    /// `$2` how many heads at most; returns `msg_id, read_ct, message`.
    pub fn heads_sql(host: &HostName) -> &'static str {
        queue_sql(HEADS_SQL, &host.queue_name())
    }

    /// Reads up to `qty` group heads (at most one per conversation), leasing each for `vt_secs`.
    pub async fn read_heads(
        &self,
        host: &HostName,
        vt_secs: i32,
        qty: i32,
    ) -> Result<Vec<Leased>, pgmq::errors::PgmqError> {
        let read_at = tokio::time::Instant::now();
        let sql = Self::heads_sql(host);
        let rows: Vec<(i64, i32, sqlx::types::Json<TurnMessage>)> = sqlx::query_as(sql)
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

/// The queue's group-head index, which the head read walks instead of scanning the queue (migration `20261201000002_queue_heads.sql`). Idempotent.
async fn heads_index(conn: &mut PgConnection, queue: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT paliadin_queue_heads_index($1)")
        .bind(queue)
        .execute(conn)
        .await
        .map(drop)
}

//! The one statement that appends events to a turn: bump `turns.last_seq`, insert the events
//! with the seqs it freed, `pg_notify(paliadin_events, 'turn_id:last_seq')` (delivered at
//! commit). Every event of every turn is written by this statement — [`append_sql!`] — so the
//! seq order, the fence and the notification are the same everywhere.
//!
//! Most writers call [`super::events::append`] / [`super::events::append_all`]. A write that
//! changes the turn row too (a claim, a delivery, a finish, the cancel of a queued turn) puts its
//! own `SET`, condition and extra CTEs into the same statement through the macro's arguments,
//! so the row change and its event commit together in one round trip.

use crate::db::EVENTS_CHANNEL;
use crate::events::{EventKind, NewEvent};
use serde_json::Value;
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use uuid::Uuid;

/// The append statement. Its parameters `$1`–`$5` are bound by [`bind`]: the turn id, the fence
/// (`$2`: the attempt that must still own the turn, `NULL` for none), the events' kinds
/// (`text[]`) and data (`jsonb[]`), the events channel; the caller's own parameters start at `$6`.
///
/// The turn row is updated (`bump`) only if `id = $1`, the fence holds and `filter` (`AND …`)
/// holds; no row = nothing written, and the statement returns no row. Its result columns are
/// `seq` (the last appended seq, `NULL` when nothing was appended) and then `select` (`, …`:
/// columns of `bump`, which holds `ev_turn`, `ev_last`, `ev_added` and `returning`, or of the `with` CTEs).
///
/// - `set`: more assignments on the row (`, state = 'running'`), reading its old values.
/// - `added`: `(before, after)`, how many of the events to append — an expression over the old
///   row (in `SET`) and the same over the new row (in `RETURNING`); the short form appends all.
/// - `returning`: more columns of the updated row for `select` (`, host, msg_id`).
/// - `with`: more CTEs (`, arch AS (… FROM bump)`); `select` must read them or they do not run.
macro_rules! append_sql {
    (set: $set:expr, filter: $filter:expr, returning: $ret:expr, with: $with:expr,
     select: $sel:expr $(,)?) => {
        $crate::db::append::append_sql!(
            set: $set, filter: $filter,
            added: ("cardinality($3::text[])", "cardinality($3::text[])"),
            returning: $ret, with: $with, select: $sel)
    };
    (set: $set:expr, filter: $filter:expr, added: ($before:expr, $after:expr),
     returning: $ret:expr, with: $with:expr, select: $sel:expr $(,)?) => {
        concat!(
            "WITH bump AS (
                 UPDATE turns SET last_seq = last_seq + ",
            $before,
            $set,
            "
                  WHERE id = $1 AND ($2::int IS NULL OR attempt = $2) ",
            $filter,
            "
              RETURNING id AS ev_turn, last_seq AS ev_last, ",
            $after,
            " AS ev_added",
            $ret,
            "
             ), ins AS (
                 INSERT INTO turn_events (turn_id, seq, kind, data)
                 SELECT b.ev_turn, b.ev_last - b.ev_added + e.n::int, e.kind, e.data
                   FROM bump b,
                        unnest($3::text[], $4::jsonb[]) WITH ORDINALITY AS e(kind, data, n)
                  WHERE e.n <= b.ev_added
              RETURNING seq
             ), appended AS (
                 SELECT max(seq) AS seq, pg_notify($5, $1::text || ':' || max(seq)) IS NULL AS notified
                   FROM ins HAVING count(*) > 0
             )",
            $with,
            "
             SELECT appended.seq",
            $sel,
            " FROM bump LEFT JOIN appended ON true"
        )
    };
}
pub(crate) use append_sql;

/// Binds `$1`–`$5` of an [`append_sql!`] statement: `evs` are appended in order, with
/// consecutive seqs, to `turn` if `fence` (an attempt; `None`: no fence) still owns it.
pub(crate) fn bind<'q, O>(
    q: QueryAs<'q, Postgres, O, PgArguments>,
    turn: Uuid,
    fence: Option<i32>,
    evs: &'q [NewEvent],
) -> QueryAs<'q, Postgres, O, PgArguments> {
    let kinds: Vec<EventKind> = evs.iter().map(|e| e.kind).collect();
    let data: Vec<&'q Value> = evs.iter().map(|e| &e.data).collect();
    q.bind(turn)
        .bind(fence)
        .bind(kinds)
        .bind(data)
        .bind(EVENTS_CHANNEL)
}

//! Where PostgreSQL's time goes per turn (`--pg-profile`): between two snapshots around a
//! phase, per statement (`pg_stat_statements`, where the server preloads it: calls, execution
//! and planning time, rows, buffers and WAL bytes per turn), the WAL written (cluster-wide,
//! `pg_current_wal_lsn()`), and the rows and index scans per turn of each table
//! (`pg_stat_user_tables`, `pg_stat_user_indexes`: inserts, updates and how many of them were
//! HOT — an update that is not HOT writes a new entry in every index of the table).
//!
//! Statement time is not CPU: it includes lock waits and the commit's WAL flush (in `COMMIT`),
//! and leaves out parsing, protocol and connection work. The bench's own CPU figure
//! ([`super::cpu`], the backends' `/proc` time) stays the measure; this says where it goes.

use sqlx::PgPool;
use std::collections::HashMap;

/// One statement's counters (`pg_stat_statements`).
#[derive(Clone, Default)]
struct Stmt {
    query: String,
    calls: f64,
    exec_ms: f64,
    plan_ms: f64,
    rows: f64,
    blks: f64,
    wal_bytes: f64,
}

/// A `pg_stat_statements` row: queryid, query, calls, execution ms, planning ms, rows,
/// buffers, WAL bytes.
type StmtRow = (i64, String, i64, f64, f64, i64, i64, f64);

/// One relation's counters: inserts, updates, HOT updates, deletes, index scans.
type Rel = [f64; 5];

/// The counters at one moment.
#[derive(Clone, Default)]
pub struct Probe {
    stmts: Option<HashMap<i64, Stmt>>,
    wal_lsn: Option<String>,
    tables: HashMap<String, Rel>,
    /// Index name → (table, scans).
    indexes: HashMap<String, (String, f64)>,
    /// Table → number of indexes.
    index_count: HashMap<String, usize>,
}

/// Creates `pg_stat_statements` in the bench's database when the server preloads it; says
/// which figures this run will have.
pub async fn prepare(pool: &PgPool) -> bool {
    let preload: String = sqlx::query_scalar("SELECT current_setting('shared_preload_libraries')")
        .fetch_one(pool)
        .await
        .unwrap_or_default();
    let on = preload.contains("pg_stat_statements")
        && sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(pool)
            .await
            .is_ok();
    if on {
        println!("\n--pg-profile: pg_stat_statements is preloaded: statements, WAL, rows, indexes");
    } else {
        println!(
            "\n--pg-profile: pg_stat_statements is not in shared_preload_libraries ({preload:?}): \
             WAL, rows and indexes only"
        );
    }
    on
}

/// The counters now. Table statistics reach the shared view within a second of a
/// transaction's end (PostgreSQL 15 flushes a backend's counts at most once a second), so it
/// waits that long first.
pub async fn snapshot(pool: &PgPool, statements: bool) -> Probe {
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let mut p = Probe::default();
    if statements {
        let rows: Vec<StmtRow> = sqlx::query_as(
            "SELECT queryid, query, calls, total_exec_time, total_plan_time, rows,
                        shared_blks_hit + shared_blks_read, wal_bytes::float8
                   FROM pg_stat_statements
                  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                    AND queryid IS NOT NULL",
        )
        .fetch_all(pool)
        .await
        .unwrap_or_default();
        p.stmts = Some(
            rows.into_iter()
                .map(|(id, query, calls, exec, plan, rows, blks, wal)| {
                    let s = Stmt {
                        query,
                        calls: calls as f64,
                        exec_ms: exec,
                        plan_ms: plan,
                        rows: rows as f64,
                        blks: blks as f64,
                        wal_bytes: wal,
                    };
                    (id, s)
                })
                .collect(),
        );
    }
    p.wal_lsn = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(pool)
        .await
        .ok();
    let _ = sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(pool)
        .await;
    let tables: Vec<(String, i64, i64, i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT schemaname || '.' || relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del,
                idx_scan
           FROM pg_stat_user_tables",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    for (name, ins, upd, hot, del, scans) in tables {
        let r = [ins, upd, hot, del, scans.unwrap_or(0)].map(|v| v as f64);
        p.tables.insert(name, r);
    }
    let indexes: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT schemaname || '.' || indexrelname, schemaname || '.' || relname, idx_scan
           FROM pg_stat_user_indexes",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    for (index, table, scans) in indexes {
        *p.index_count.entry(table.clone()).or_default() += 1;
        p.indexes.insert(index, (table, scans as f64));
    }
    p
}

/// Prints the profile of a phase of `turns` turns.
pub async fn report(pool: &PgPool, before: &Probe, after: &Probe, turns: usize) {
    if turns == 0 {
        return;
    }
    let n = turns as f64;
    println!("\nPostgreSQL profile ({turns} turns; per turn):");
    if let (Some(a), Some(b)) = (&after.wal_lsn, &before.wal_lsn) {
        let bytes: Option<f64> =
            sqlx::query_scalar("SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::float8")
                .bind(a)
                .bind(b)
                .fetch_one(pool)
                .await
                .ok();
        if let Some(bytes) = bytes {
            println!(
                "- WAL: {:.0} bytes per turn (the whole server's, from pg_current_wal_lsn())",
                bytes / n
            );
        }
    }
    if let (Some(a), Some(b)) = (&after.stmts, &before.stmts) {
        let mut rows: Vec<(Stmt, Stmt)> = a
            .iter()
            .map(|(id, s)| (s.clone(), b.get(id).cloned().unwrap_or_default()))
            .filter(|(s, b)| s.calls > b.calls)
            .collect();
        rows.sort_by(|x, y| (y.0.exec_ms - y.1.exec_ms).total_cmp(&(x.0.exec_ms - x.1.exec_ms)));
        let total: f64 = rows.iter().map(|(s, b)| s.exec_ms - b.exec_ms).sum();
        let calls: f64 = rows.iter().map(|(s, b)| s.calls - b.calls).sum();
        let plan: f64 = rows.iter().map(|(s, b)| s.plan_ms - b.plan_ms).sum();
        let wal: f64 = rows.iter().map(|(s, b)| s.wal_bytes - b.wal_bytes).sum();
        println!(
            "- statements: {:.1} calls, {:.3} ms executing, {:.3} ms planning, {:.0} WAL bytes \
             per turn (pg_stat_statements)\n",
            calls / n,
            total / n,
            plan / n,
            wal / n
        );
        println!(
            "| calls / turn | exec ms / turn | ms / call | rows / call | buffers / call | WAL B / turn | statement |"
        );
        println!("|---|---|---|---|---|---|---|");
        for (s, b) in rows.iter().take(25) {
            let c = s.calls - b.calls;
            let q: String = s.query.split_whitespace().collect::<Vec<_>>().join(" ");
            let q: String = q.chars().take(150).collect();
            println!(
                "| {:.2} | {:.3} | {:.3} | {:.1} | {:.1} | {:.0} | `{}` |",
                c / n,
                (s.exec_ms - b.exec_ms) / n,
                (s.exec_ms - b.exec_ms) / c,
                (s.rows - b.rows) / c,
                (s.blks - b.blks) / c,
                (s.wal_bytes - b.wal_bytes) / n,
                q.replace('|', "\\|")
            );
        }
    }
    let mut tables: Vec<(&String, Rel)> = after
        .tables
        .iter()
        .map(|(k, a)| {
            let b = before.tables.get(k).copied().unwrap_or_default();
            (k, std::array::from_fn(|i| (a[i] - b[i]) / n))
        })
        .filter(|(_, d)| d.iter().any(|v| *v > 0.0))
        .collect();
    tables.sort_by(|x, y| x.0.cmp(y.0));
    println!(
        "\n| table | indexes | inserts | updates (HOT) | deletes | index scans | index entries written |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (t, d) in &tables {
        let k = after.index_count.get(*t).copied().unwrap_or(0) as f64;
        println!(
            "| {t} | {k} | {:.2} | {:.2} ({:.2}) | {:.2} | {:.2} | {:.1} |",
            d[0],
            d[1],
            d[2],
            d[3],
            d[4],
            (d[0] + d[1] - d[2]) * k
        );
    }
    let mut idx: Vec<(&String, f64)> = after
        .indexes
        .iter()
        .map(|(k, (_, a))| (k, (a - before.indexes.get(k).map_or(0.0, |x| x.1)) / n))
        .filter(|(_, d)| *d > 0.0)
        .collect();
    idx.sort_by(|x, y| y.1.total_cmp(&x.1));
    let line: Vec<String> = idx.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
    println!("\nindex scans per turn: {}", line.join(", "));
}

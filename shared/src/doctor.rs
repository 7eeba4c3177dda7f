//! `doctor`: checks that explain themselves. A [`Report`] collects one line per check — ok,
//! warn or fail, what was found and, when not ok, the fix — and the checks both binaries share:
//! the database (reachable, migrated to this binary's version, pgmq, LISTEN/NOTIFY, clock
//! skew) and the turn queues. `paliadin-api doctor` and `paliadin-worker doctor` print the
//! report and exit 1 when any check failed (docs/operations.md, "Doctor").

use crate::domain::HostName;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use std::fmt::Write;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One check: its name, what was found, and the fix when it is not ok.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

/// The checks, in the order they ran.
#[derive(Debug, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn ok(&mut self, name: &str, detail: impl Into<String>) {
        self.push(name, Status::Ok, detail.into(), None);
    }

    pub fn warn(&mut self, name: &str, detail: impl Into<String>, fix: impl Into<String>) {
        self.push(name, Status::Warn, detail.into(), Some(fix.into()));
    }

    pub fn fail(&mut self, name: &str, detail: impl Into<String>, fix: impl Into<String>) {
        self.push(name, Status::Fail, detail.into(), Some(fix.into()));
    }

    fn push(&mut self, name: &str, status: Status, detail: String, fix: Option<String>) {
        self.checks.push(Check {
            name: name.to_owned(),
            status,
            detail,
            fix,
        });
    }

    /// Whether any check failed (the process then exits 1).
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// One line per check: `ok   name: detail`, `warn name: detail (fix: …)`, `fail …`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let tag = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "fail",
            };
            let _ = write!(out, "{tag} {}: {}", c.name, one_line(&c.detail));
            if let Some(fix) = &c.fix {
                let _ = write!(out, " (fix: {})", one_line(fix));
            }
            out.push('\n');
        }
        out
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How long each database step may take before it counts as failed.
const DB_TIMEOUT: Duration = Duration::from_secs(5);
/// Clock skew above this is a warning (lease expiry and event times drift apart)...
const SKEW_WARN: Duration = Duration::from_secs(2);
/// ...and above this a failure (leases of 30 s would expire early or late).
const SKEW_FAIL: Duration = Duration::from_secs(10);

/// The database checks. Returns the pool when the database answered (later checks use it).
pub async fn database(report: &mut Report, url: Option<&str>) -> Option<PgPool> {
    let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
        report.fail(
            "database reachable",
            "DATABASE_URL is not set",
            "set DATABASE_URL in /etc/paliadin/paliadin.env (or pass --database-url)",
        );
        return None;
    };
    let opts = match PgConnectOptions::from_str(url) {
        Ok(o) => o.application_name("paliadin-doctor"),
        Err(e) => {
            report.fail(
                "database reachable",
                format!("DATABASE_URL does not parse: {e}"),
                "write it as postgres://USER:PASSWORD@HOST:PORT/DB",
            );
            return None;
        }
    };
    let pool = match PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(DB_TIMEOUT)
        .connect_with(opts)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            report.fail(
                "database reachable",
                format!("cannot connect: {e}"),
                "start PostgreSQL, check host, port, user and password in DATABASE_URL \
                 and pg_hba.conf",
            );
            return None;
        }
    };
    let version: Result<String, _> = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await;
    match version {
        Ok(v) => report.ok("database reachable", format!("PostgreSQL {v}")),
        Err(e) => {
            report.fail(
                "database reachable",
                format!("connected but cannot query: {e}"),
                "check the role's privileges on the database",
            );
            return None;
        }
    }
    migrations(report, &pool).await;
    listen(report, &pool).await;
    clock(report, &pool).await;
    Some(pool)
}

/// Migrated to exactly this binary's version, and pgmq installed.
async fn migrations(report: &mut Report, pool: &PgPool) {
    let known: Vec<i64> = crate::db::migration_versions();
    let latest = known.iter().max().copied().unwrap_or(0);
    let pgmq: Result<Option<String>, _> =
        sqlx::query_scalar("SELECT to_regclass('pgmq.meta')::text")
            .fetch_one(pool)
            .await;
    match pgmq {
        Ok(Some(_)) => report.ok("pgmq installed", "schema pgmq present"),
        Ok(None) => report.fail(
            "pgmq installed",
            "schema pgmq is missing",
            "run `paliadin-api migrate` (it installs pgmq)",
        ),
        Err(e) => report.fail("pgmq installed", e.to_string(), "check the database"),
    }
    let status = match crate::db::schema::status(pool).await {
        Ok(s) => s,
        Err(e) => {
            report.fail(
                "database migrated",
                format!("{e}; this binary needs migration {latest}"),
                "run `paliadin-api migrate`",
            );
            return;
        }
    };
    if status.database == 0 {
        report.fail(
            "database migrated",
            format!("no migrations applied; this binary needs migration {latest}"),
            "run `paliadin-api migrate`",
        );
    } else if !status.missing.is_empty() {
        report.fail(
            "database migrated",
            format!(
                "missing migrations {:?}; this binary needs migration {latest}",
                status.missing
            ),
            "run `paliadin-api migrate` with this release",
        );
    } else if !status.unknown.is_empty() {
        report.fail(
            "database migrated",
            format!(
                "the database is at migration {}, newer than this binary (built with \
                 migration {latest}); migrations {:?} are not marked compatible",
                status.database, status.unknown
            ),
            "upgrade this binary to the release that ran the migration",
        );
    } else if !status.compatible.is_empty() {
        report.ok(
            "database migrated",
            format!(
                "at migration {}, newer than this binary ({latest}) but marked compatible: {:?}",
                status.database, status.compatible
            ),
        );
    } else {
        report.ok("database migrated", format!("at migration {latest}"));
    }
}

/// A notification sent through the database comes back on a listening connection.
async fn listen(report: &mut Report, pool: &PgPool) {
    let channel = format!("paliadin_doctor_{}", std::process::id());
    let result = tokio::time::timeout(DB_TIMEOUT, async {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(&channel).await?;
        sqlx::query("SELECT pg_notify($1, 'ping')")
            .bind(&channel)
            .execute(pool)
            .await?;
        let n = listener.recv().await?;
        Ok::<_, sqlx::Error>(n.payload().to_owned())
    })
    .await;
    match result {
        Ok(Ok(p)) if p == "ping" => report.ok("LISTEN/NOTIFY", "a notification came back"),
        Ok(Ok(p)) => report.fail(
            "LISTEN/NOTIFY",
            format!("unexpected payload {p:?}"),
            "check for a proxy rewriting traffic",
        ),
        Ok(Err(e)) => report.fail(
            "LISTEN/NOTIFY",
            e.to_string(),
            "connect directly or through a session-mode pooler (transaction-mode pgbouncer \
             drops LISTEN)",
        ),
        Err(_) => report.fail(
            "LISTEN/NOTIFY",
            format!("no notification within {DB_TIMEOUT:?}"),
            "connect directly or through a session-mode pooler (transaction-mode pgbouncer \
             drops LISTEN)",
        ),
    }
}

/// This machine's clock against the database's (leases and event times use the latter).
async fn clock(report: &mut Report, pool: &PgPool) {
    let before = SystemTime::now();
    let db: Result<f64, _> =
        sqlx::query_scalar("SELECT extract(epoch FROM clock_timestamp())::float8")
            .fetch_one(pool)
            .await;
    let after = SystemTime::now();
    let Ok(db) = db else {
        report.warn(
            "clock skew",
            "cannot read the database clock",
            "check the database",
        );
        return;
    };
    let secs = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
    };
    let local = (secs(before) + secs(after)) / 2.0;
    let skew = (local - db).abs();
    let detail = format!("{skew:.3} s between this machine and the database");
    let fix = "run an NTP client (chrony or systemd-timesyncd) on both machines";
    if skew >= SKEW_FAIL.as_secs_f64() {
        report.fail("clock skew", detail, fix);
    } else if skew >= SKEW_WARN.as_secs_f64() {
        report.warn("clock skew", detail, fix);
    } else {
        report.ok("clock skew", detail);
    }
}

/// The queues of `hosts` exist (workers create their hosts' queues when they start).
pub async fn queues(report: &mut Report, pool: &PgPool, hosts: &[HostName]) {
    let existing: Result<Vec<String>, _> =
        sqlx::query_scalar("SELECT queue_name FROM pgmq.meta ORDER BY queue_name")
            .fetch_all(pool)
            .await;
    let Ok(existing) = existing else {
        // pgmq missing: already reported.
        return;
    };
    if hosts.is_empty() {
        let turns: Vec<&String> = existing
            .iter()
            .filter(|q| q.starts_with("turns_"))
            .collect();
        if turns.is_empty() {
            report.warn(
                "queues present",
                "no turn queue yet",
                "start a worker (it creates its hosts' queues)",
            );
        } else {
            report.ok("queues present", format!("{} turn queue(s)", turns.len()));
        }
        return;
    }
    for host in hosts {
        let name = host.queue_name();
        if existing.contains(&name) {
            report.ok("queues present", name);
        } else {
            report.warn(
                "queues present",
                format!("{name} does not exist yet"),
                "start the worker: it creates the queues of the hosts it serves",
            );
        }
    }
}

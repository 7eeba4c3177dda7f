//! `paliadin-api doctor`: the shared database and queue checks
//! ([`paliadin_shared::doctor`]) plus what the workers reported about their hosts (the `hosts`
//! table): a host marked unreachable is a warning naming its last error.

use paliadin_shared::doctor::{self, Report};
use sqlx::PgPool;

/// Runs the API's checks against `database_url`.
pub async fn run(database_url: Option<&str>) -> Report {
    let mut report = Report::default();
    if let Some(pool) = doctor::database(&mut report, database_url).await {
        doctor::queues(&mut report, &pool, &[]).await;
        hosts(&mut report, &pool).await;
        pool.close().await;
    }
    report
}

async fn hosts(report: &mut Report, pool: &PgPool) {
    let rows: Result<Vec<(String, bool, Option<String>)>, _> =
        sqlx::query_as("SELECT name, reachable, last_error FROM hosts ORDER BY name")
            .fetch_all(pool)
            .await;
    let Ok(rows) = rows else {
        // Unmigrated: already reported.
        return;
    };
    for (name, reachable, last_error) in rows {
        let check = format!("host {name} (as workers see it)");
        if reachable {
            report.ok(&check, "reachable");
        } else {
            report.warn(
                &check,
                format!(
                    "unreachable: {}",
                    last_error.as_deref().unwrap_or("no error recorded")
                ),
                "run `paliadin-worker doctor` on a worker serving it (runbook \"A host is \
                 unreachable\", docs/operations.md)",
            );
        }
    }
}

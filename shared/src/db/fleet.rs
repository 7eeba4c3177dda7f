//! SQL for `workers` and `hosts`: registration and heartbeats of the fleet.

use sqlx::PgPool;

/// Registers (or re-registers) a worker and the hosts it serves.
pub async fn register_worker(
    pool: &PgPool,
    id: &str,
    hosts: &[String],
    version: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO workers (id, hosts, version) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET hosts = $2, version = $3, started_at = now(),
             heartbeat_at = now(), in_flight = 0, stopped_at = NULL",
    )
    .bind(id)
    .bind(hosts)
    .bind(version)
    .execute(pool)
    .await?;
    Ok(())
}

/// A worker's heartbeat, with how many turns it is running.
pub async fn heartbeat(pool: &PgPool, id: &str, in_flight: i32) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE workers SET heartbeat_at = now(), in_flight = $2 WHERE id = $1")
        .bind(id)
        .bind(in_flight)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn stop_worker(pool: &PgPool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE workers SET stopped_at = now(), in_flight = 0 WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Marks a host as seen by a worker that serves it, with its reachability.
pub async fn host_seen(
    pool: &PgPool,
    name: &str,
    address: &str,
    reachable: bool,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO hosts (name, address, reachable, last_error, last_seen_at) VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (name) DO UPDATE SET address = $2, reachable = $3,
             last_error = COALESCE($4, hosts.last_error), last_seen_at = now()",
    )
    .bind(name)
    .bind(address)
    .bind(reachable)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

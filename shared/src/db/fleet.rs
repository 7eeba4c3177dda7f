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

/// What a worker learnt of a host's agents since its last [`host_agents`] write: the live count
/// and limit when it counted them again, and the increments of its counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentsSeen {
    /// Live agents and the limit (None: no limit), when counted since the last write.
    pub counted: Option<(i32, Option<i32>)>,
    pub starts: i64,
    pub resumes: i64,
    pub stops_idle: i64,
    pub stops_capacity: i64,
    pub stops_crash: i64,
    /// Turns put back in the queue because every agent of the host was at work.
    pub deferred: i64,
}

impl AgentsSeen {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        *self == AgentsSeen::default()
    }
}

/// Adds a worker's news of a host's agents to its `hosts` row (`docs/operations.md`, "Live
/// agents"): the counters grow by the increments, a new count replaces the old one. False when
/// the host has no row yet (nothing was written; the caller keeps the increments).
pub async fn host_agents(
    pool: &PgPool,
    name: &str,
    seen: &AgentsSeen,
) -> Result<bool, sqlx::Error> {
    let (live, max) = seen.counted.unzip();
    let done = sqlx::query(
        "UPDATE hosts SET
             agents_live = COALESCE($2, agents_live),
             agents_max = CASE WHEN $2 IS NULL THEN agents_max ELSE $3 END,
             agents_counted_at = CASE WHEN $2 IS NULL THEN agents_counted_at ELSE now() END,
             agent_starts = agent_starts + $4, agent_resumes = agent_resumes + $5,
             agent_stops_idle = agent_stops_idle + $6,
             agent_stops_capacity = agent_stops_capacity + $7,
             agent_stops_crash = agent_stops_crash + $8,
             turns_deferred = turns_deferred + $9
         WHERE name = $1",
    )
    .bind(name)
    .bind(live)
    .bind(max.flatten())
    .bind(seen.starts)
    .bind(seen.resumes)
    .bind(seen.stops_idle)
    .bind(seen.stops_capacity)
    .bind(seen.stops_crash)
    .bind(seen.deferred)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

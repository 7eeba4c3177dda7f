//! SQL of the live agents each tmux host last listed (`live_agents`): which conversations have
//! a live agent window, so the conversations list tells `idle` (its agent is live) from
//! `stopped` (its next turn resumes it). Written by the workers that serve a local tmux host
//! with each idle sweep; read by `conversations::list`.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// One live agent window: `<tmux_session>:c-<32 hex of conversation>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveWindow {
    /// The owner's tmux session (`agent_sessions.session_name`).
    pub tmux_session: String,
    pub conversation: Uuid,
}

/// The database's clock now: a listing's time, taken before it begins, on the same clock as
/// the turns' `finished_at` it is compared with.
pub async fn clock(pool: &PgPool) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(pool)
        .await
}

/// Replaces `host`'s live agents with `live`, as listed at `listed_at` (taken before the
/// listing began), in one transaction; a listing older than the host's last one is dropped
/// (several workers may serve one tmux server). Also stamps `hosts.agents_listed_at` and
/// records `counted` (how many agents are live, and the host's limit as applied there) as the
/// host's live count for the admin dashboard — the one count there is of a host behind a host
/// agent, whose starts and stops the workers do not see (no row for an unknown host: its
/// listing is still kept). Returns whether it was written.
pub async fn replace(
    pool: &PgPool,
    host: &str,
    live: &[LiveWindow],
    counted: (usize, Option<usize>),
    listed_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    // Serialises the writers of one host: the newest listing wins.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('live_agents:' || $1, 0))")
        .bind(host)
        .execute(&mut *tx)
        .await?;
    let newer: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM live_agents WHERE host = $1 AND counted_at > $2)
             OR EXISTS (SELECT 1 FROM hosts WHERE name = $1 AND agents_listed_at > $2)",
    )
    .bind(host)
    .bind(listed_at)
    .fetch_one(&mut *tx)
    .await?;
    if newer {
        return Ok(false);
    }
    sqlx::query("DELETE FROM live_agents WHERE host = $1")
        .bind(host)
        .execute(&mut *tx)
        .await?;
    let sessions: Vec<&str> = live.iter().map(|w| w.tmux_session.as_str()).collect();
    let conversations: Vec<Uuid> = live.iter().map(|w| w.conversation).collect();
    sqlx::query(
        "INSERT INTO live_agents (host, tmux_session, session_id, counted_at)
         SELECT $1, s, c, $4 FROM unnest($2::text[], $3::uuid[]) AS l(s, c)
         ON CONFLICT DO NOTHING",
    )
    .bind(host)
    .bind(&sessions)
    .bind(&conversations)
    .bind(listed_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE hosts SET agents_listed_at = $2, agents_live = $3, agents_max = $4,
                agents_counted_at = $2
          WHERE name = $1",
    )
    .bind(host)
    .bind(listed_at)
    .bind(i32::try_from(counted.0).unwrap_or(i32::MAX))
    .bind(counted.1.and_then(|m| i32::try_from(m).ok()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

//! SQL for `agent_sessions`: which host a user is pinned to, and their tmux session's name.

use crate::db::DbError;
use crate::domain::{HostName, SessionName, SessionPrefix};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The host a user is pinned to; a new user is pinned to the [`healthy_host`] with the fewest
/// users, or `fallback` when none is known. Concurrent calls for one user agree (the insert
/// races on the primary key and everyone re-reads the winner).
pub async fn pin_host(
    conn: &mut PgConnection,
    user: Uuid,
    fallback: &HostName,
) -> Result<HostName, DbError> {
    let pinned = |name: String| HostName::parse(&name).map_err(|e| DbError::Invalid(e.0));
    if let Some(h) = sqlx::query_scalar("SELECT host FROM agent_sessions WHERE user_id = $1")
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?
    {
        return pinned(h);
    }
    let host = healthy_host(conn, None)
        .await?
        .unwrap_or_else(|| fallback.clone());
    sqlx::query("INSERT INTO agent_sessions (user_id, host) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING")
        .bind(user)
        .bind(host.as_str())
        .execute(&mut *conn)
        .await?;
    pinned(
        sqlx::query_scalar("SELECT host FROM agent_sessions WHERE user_id = $1")
            .bind(user)
            .fetch_one(conn)
            .await?,
    )
}

/// The healthy host (reachable, seen by a worker in the last minute), other than `except`,
/// with the fewest pinned users.
pub async fn healthy_host(
    conn: &mut PgConnection,
    except: Option<&HostName>,
) -> Result<Option<HostName>, DbError> {
    let name: Option<String> = sqlx::query_scalar(
        "SELECT h.name FROM hosts h
           LEFT JOIN agent_sessions s ON s.host = h.name
          WHERE h.reachable AND h.last_seen_at > now() - interval '60 seconds'
            AND ($1::text IS NULL OR h.name <> $1)
          GROUP BY h.name ORDER BY count(s.user_id), h.name LIMIT 1",
    )
    .bind(except.map(HostName::as_str))
    .fetch_optional(conn)
    .await?;
    Ok(name.and_then(|n| HostName::parse(&n).ok()))
}

/// The user's tmux session name on `host`, assigning one on first use. Two users whose UUIDs
/// share the first 8 hex digits get `-1`, `-2`, … suffixes: the unique `(host, session_name)`
/// constraint decides every race, and the loop re-reads after each attempt.
pub async fn session_name(
    pool: &PgPool,
    user: Uuid,
    host: &str,
    prefix: &SessionPrefix,
) -> Result<SessionName, sqlx::Error> {
    let mut collision = 0u32;
    while collision < 1000 {
        let current: Option<Option<String>> = sqlx::query_scalar(
            "SELECT session_name FROM agent_sessions WHERE user_id = $1 AND host = $2",
        )
        .bind(user)
        .bind(host)
        .fetch_optional(pool)
        .await?;
        if let Some(Some(existing)) = current {
            return SessionName::parse(&existing).map_err(|e| sqlx::Error::Protocol(e.0));
        }
        let name = SessionName::for_user(prefix, user, collision);
        let res = sqlx::query(
            "INSERT INTO agent_sessions (user_id, host, session_name) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET session_name = EXCLUDED.session_name
             WHERE agent_sessions.host = EXCLUDED.host AND agent_sessions.session_name IS NULL",
        )
        .bind(user)
        .bind(host)
        .bind(name.as_str())
        .execute(pool)
        .await;
        match res {
            Ok(done) if done.rows_affected() == 0 => {
                // The user is pinned to another host: this host must not start a session.
                return Err(sqlx::Error::Protocol(format!(
                    "user is not pinned to host {host}"
                )));
            }
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => collision += 1,
            Err(e) => return Err(e),
        }
    }
    Err(sqlx::Error::Protocol(
        "could not assign a unique session name".into(),
    ))
}

/// Records that the session was used (for stats and host balancing).
pub async fn touch(pool: &PgPool, user: Uuid, health: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE agent_sessions SET last_used_at = now(), health = $2 WHERE user_id = $1")
        .bind(user)
        .bind(health)
        .execute(pool)
        .await?;
    Ok(())
}

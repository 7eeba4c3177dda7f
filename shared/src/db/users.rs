//! SQL for `users`, `api_tokens` and `web_sessions`. Secrets arrive here already hashed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// A user's role: `owner` chats, `admin` reads stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Creates a user with a first token hash. Fails if the email is taken.
pub async fn create(
    pool: &PgPool,
    email: &str,
    role: Role,
    token_hash: &[u8],
) -> Result<UserRow, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let user: UserRow = sqlx::query_as(
        "INSERT INTO users (id, email, role) VALUES ($1, $2, $3) RETURNING id, email, role, disabled, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(email)
    .bind(role.as_str())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO api_tokens (token_hash, user_id) VALUES ($1, $2)")
        .bind(token_hash)
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(user)
}

/// Adds another token for a user (`user token`), returning false for an unknown email.
pub async fn add_token(pool: &PgPool, email: &str, token_hash: &[u8]) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO api_tokens (token_hash, user_id) SELECT $1, id FROM users WHERE email = $2",
    )
    .bind(token_hash)
    .bind(email)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Disables or re-enables a user; false for an unknown email. Disabling also ends their
/// browser sessions and revokes every token for good: re-enabling needs a new token (`user
/// token`), so a token leaked before the disable stays dead.
pub async fn set_disabled(pool: &PgPool, email: &str, disabled: bool) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query("UPDATE users SET disabled = $2 WHERE email = $1")
        .bind(email)
        .bind(disabled)
        .execute(&mut *tx)
        .await?;
    if disabled {
        sqlx::query(
            "DELETE FROM web_sessions WHERE user_id = (SELECT id FROM users WHERE email = $1)",
        )
        .bind(email)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = now()
              WHERE revoked_at IS NULL AND user_id = (SELECT id FROM users WHERE email = $1)",
        )
        .bind(email)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// One of a user's tokens as the operator sees it: a fingerprint (the first 12 hex digits of
/// its SHA-256 hash; the token itself is never stored), when it was made, whether revoked.
#[derive(Debug, Clone, FromRow)]
pub struct TokenInfo {
    pub fingerprint: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The fingerprint of a token hash (see [`TokenInfo`]).
pub fn fingerprint(token_hash: &[u8]) -> String {
    token_hash[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// A user's tokens, oldest first.
pub async fn tokens(pool: &PgPool, email: &str) -> Result<Vec<TokenInfo>, sqlx::Error> {
    sqlx::query_as(
        "SELECT encode(substring(t.token_hash from 1 for 6), 'hex') AS fingerprint,
                t.created_at, t.revoked_at
           FROM api_tokens t JOIN users u ON u.id = t.user_id
          WHERE u.email = $1 ORDER BY t.created_at, t.token_hash",
    )
    .bind(email)
    .fetch_all(pool)
    .await
}

/// Revokes the one unrevoked token of `email` whose fingerprint is `fingerprint`; returns how
/// many matched (0: none, 1: revoked).
pub async fn revoke_token(
    pool: &PgPool,
    email: &str,
    fingerprint: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = now()
          WHERE revoked_at IS NULL
            AND encode(substring(token_hash from 1 for 6), 'hex') = lower($2)
            AND user_id = (SELECT id FROM users WHERE email = $1)",
    )
    .bind(email)
    .bind(fingerprint)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

pub async fn list(pool: &PgPool) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, email, role, disabled, created_at FROM users ORDER BY created_at")
        .fetch_all(pool)
        .await
}

/// The enabled user owning an unrevoked token with this hash.
pub async fn by_token_hash(
    pool: &PgPool,
    token_hash: &[u8],
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id, u.email, u.role, u.disabled, u.created_at
           FROM api_tokens t JOIN users u ON u.id = t.user_id
          WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND NOT u.disabled",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await
}

/// Starts a browser session that expires at `expires_at`.
pub async fn create_web_session(
    pool: &PgPool,
    session_hash: &[u8],
    user_id: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO web_sessions (session_hash, user_id, expires_at) VALUES ($1, $2, $3)")
        .bind(session_hash)
        .bind(user_id)
        .bind(expires_at)
        .execute(pool)
        .await?;
    Ok(())
}

/// The enabled user of an unexpired browser session.
pub async fn by_web_session(
    pool: &PgPool,
    session_hash: &[u8],
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id, u.email, u.role, u.disabled, u.created_at
           FROM web_sessions s JOIN users u ON u.id = s.user_id
          WHERE s.session_hash = $1 AND s.expires_at > now() AND NOT u.disabled",
    )
    .bind(session_hash)
    .fetch_optional(pool)
    .await
}

pub async fn delete_web_session(pool: &PgPool, session_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM web_sessions WHERE session_hash = $1")
        .bind(session_hash)
        .execute(pool)
        .await?;
    Ok(())
}

//! The model's usage per owner and per day (UTC) over the stats window, from `turn_usage`
//! (`docs/operations.md`, "Usage and cost"). At most [`MAX_ROWS`] rows, the newest days and the
//! largest users first; the range is read through the `turn_usage_recorded` index.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

/// Most (day, owner) rows returned.
pub const MAX_ROWS: i64 = 200;

/// One owner's usage on one day.
#[derive(Debug, Clone, Serialize, Deserialize, FromRow, ToSchema)]
pub struct TokenDay {
    /// The UTC day.
    pub day: NaiveDate,
    pub user_id: Uuid,
    pub email: String,
    pub turns: i64,
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_creation: i64,
    /// The cost of the turns whose model has a price (US dollars); null when none has.
    pub cost_usd: Option<f64>,
}

/// The days that overlap the last `window_secs`, per owner.
pub async fn token_days(pool: &PgPool, window_secs: i64) -> Result<Vec<TokenDay>, sqlx::Error> {
    sqlx::query_as(
        "SELECT (u.recorded_at AT TIME ZONE 'UTC')::date AS day, u.user_id, users.email,
                count(*) AS turns,
                sum(u.input_tokens)::int8 AS input, sum(u.output_tokens)::int8 AS output,
                sum(u.cache_read_tokens)::int8 AS cache_read,
                sum(u.cache_creation_tokens)::int8 AS cache_creation,
                sum(u.cost_usd)::float8 AS cost_usd
           FROM turn_usage u JOIN users ON users.id = u.user_id
          WHERE u.recorded_at >= now() - make_interval(secs => $1)
          GROUP BY 1, 2, 3
          ORDER BY 1 DESC, sum(u.input_tokens + u.output_tokens + u.cache_read_tokens
                              + u.cache_creation_tokens) DESC
          LIMIT $2",
    )
    .bind(window_secs as f64)
    .bind(MAX_ROWS)
    .fetch_all(pool)
    .await
}

//! `turn_usage`: what the model spent on each turn (`docs/claude-code.md`, "Usage of every
//! turn"), and the sums the budget and the stats need.

use crate::domain::usage::{TurnUsage, Usage};
use sqlx::PgPool;
use uuid::Uuid;

/// Records the usage of a conversation's turns. Only turns of `user`'s conversation `session`
/// are written (the transcript that named them is the agent's, so a turn id in it is not
/// trusted); a turn's row only grows (its closing request may be found by a later read).
pub async fn record(
    pool: &PgPool,
    user: Uuid,
    session: Uuid,
    usage: &[TurnUsage],
) -> Result<u64, sqlx::Error> {
    if usage.is_empty() {
        return Ok(0);
    }
    let col = |f: fn(&Usage) -> i64| usage.iter().map(|t| f(&t.usage)).collect::<Vec<i64>>();
    let ids: Vec<Uuid> = usage.iter().map(|t| t.turn_id).collect();
    let models: Vec<String> = usage.iter().map(|t| t.usage.model.clone()).collect();
    let windows: Vec<Option<i64>> = usage.iter().map(|t| t.usage.context_window).collect();
    let costs: Vec<Option<f64>> = usage.iter().map(|t| t.usage.cost_usd).collect();
    let done = sqlx::query(
        "INSERT INTO turn_usage (turn_id, user_id, session_id, model, input_tokens,
                output_tokens, cache_read_tokens, cache_creation_tokens, context_tokens,
                context_window, cost_usd)
         SELECT u.turn_id, t.user_id, t.session_id, u.model, u.i, u.o, u.r, u.c, u.x, u.w,
                u.cost::numeric
           FROM unnest($3::uuid[], $4::text[], $5::int8[], $6::int8[], $7::int8[], $8::int8[],
                       $9::int8[], $10::int8[], $11::float8[])
                AS u (turn_id, model, i, o, r, c, x, w, cost)
           JOIN turns t ON t.id = u.turn_id AND t.user_id = $1 AND t.session_id = $2
         ON CONFLICT (turn_id) DO UPDATE SET
                model = EXCLUDED.model,
                input_tokens = EXCLUDED.input_tokens,
                output_tokens = EXCLUDED.output_tokens,
                cache_read_tokens = EXCLUDED.cache_read_tokens,
                cache_creation_tokens = EXCLUDED.cache_creation_tokens,
                context_tokens = EXCLUDED.context_tokens,
                context_window = EXCLUDED.context_window,
                cost_usd = EXCLUDED.cost_usd
          WHERE EXCLUDED.input_tokens + EXCLUDED.output_tokens + EXCLUDED.cache_read_tokens
                + EXCLUDED.cache_creation_tokens
              > turn_usage.input_tokens + turn_usage.output_tokens
                + turn_usage.cache_read_tokens + turn_usage.cache_creation_tokens",
    )
    .bind(user)
    .bind(session)
    .bind(&ids)
    .bind(&models)
    .bind(col(|u| u.input))
    .bind(col(|u| u.output))
    .bind(col(|u| u.cache_read))
    .bind(col(|u| u.cache_creation))
    .bind(col(|u| u.context))
    .bind(&windows)
    .bind(&costs)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The usage of `user`'s turns among `turns`.
pub async fn of_turns(
    pool: &PgPool,
    user: Uuid,
    turns: &[Uuid],
) -> Result<Vec<TurnUsage>, sqlx::Error> {
    let rows: Vec<UsageRow> = sqlx::query_as(
        "SELECT turn_id, model, input_tokens, output_tokens, cache_read_tokens,
                cache_creation_tokens, context_tokens, context_window, cost_usd::float8 AS cost
           FROM turn_usage WHERE turn_id = ANY($2) AND user_id = $1",
    )
    .bind(user)
    .bind(turns)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(UsageRow::into_usage).collect())
}

/// The stored usage of the turns among `turns` that belong to `user`'s conversation `session`
/// (what [`record`] would grow: a turn id read from a transcript is not trusted).
pub async fn of_conversation_turns(
    pool: &PgPool,
    user: Uuid,
    session: Uuid,
    turns: &[Uuid],
) -> Result<Vec<TurnUsage>, sqlx::Error> {
    let rows: Vec<UsageRow> = sqlx::query_as(
        "SELECT turn_id, model, input_tokens, output_tokens, cache_read_tokens,
                cache_creation_tokens, context_tokens, context_window, cost_usd::float8 AS cost
           FROM turn_usage WHERE turn_id = ANY($3) AND user_id = $1 AND session_id = $2",
    )
    .bind(user)
    .bind(session)
    .bind(turns)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(UsageRow::into_usage).collect())
}

#[derive(sqlx::FromRow)]
struct UsageRow {
    turn_id: Uuid,
    model: String,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_creation_tokens: i64,
    context_tokens: i64,
    context_window: Option<i64>,
    cost: Option<f64>,
}

impl UsageRow {
    fn into_usage(self) -> TurnUsage {
        TurnUsage {
            turn_id: self.turn_id,
            usage: Usage {
                model: self.model,
                input: self.input_tokens,
                output: self.output_tokens,
                cache_read: self.cache_read_tokens,
                cache_creation: self.cache_creation_tokens,
                context: self.context_tokens,
                cost_usd: self.cost,
                context_window: self.context_window,
            },
        }
    }
}

/// The tokens of every kind `user`'s turns recorded today (UTC): what the daily budget counts.
pub async fn tokens_today(pool: &PgPool, user: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(TOKENS_TODAY_SQL)
        .bind(user)
        .fetch_one(pool)
        .await
}

/// [`tokens_today`]'s query, `$1` the user (also inlined where a statement needs it).
pub const TOKENS_TODAY_SQL: &str = "SELECT COALESCE(sum(input_tokens + output_tokens
        + cache_read_tokens + cache_creation_tokens), 0)::int8
   FROM turn_usage
  WHERE user_id = $1 AND recorded_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'";

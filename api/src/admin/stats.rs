//! `GET /api/admin/paliadin/stats?window=1h`: queue-backed figures for the dashboard, computed
//! on each call from pgmq and the tables (see `paliadin_shared::db::stats` for what each counts
//! and how the cost stays bounded).

use crate::auth::Admin;
use crate::error::AppError;
use crate::openapi::ErrorBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use paliadin_shared::db::stats::{self, Stats};
use serde::Deserialize;
use utoipa::IntoParams;

/// Default window of the latency and usage figures.
pub const DEFAULT_WINDOW: &str = "1h";
/// Shortest and longest windows accepted.
const MIN_WINDOW_SECS: i64 = 60;
const MAX_WINDOW_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Window of the latency, outcome and usage figures: a number and a unit (`s`, `m`, `h`,
    /// `d`), from `1m` to `7d`. Default `1h`.
    #[param(example = "1h")]
    pub window: Option<String>,
}

/// Parses `30m`, `1h`, `7d`…; `None` when malformed or outside `1m..=7d`.
pub fn parse_window(raw: &str) -> Option<i64> {
    let unit = raw.chars().last()?;
    let digits = &raw[..raw.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let secs = n.checked_mul(match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    })?;
    (MIN_WINDOW_SECS..=MAX_WINDOW_SECS)
        .contains(&secs)
        .then_some(secs)
}

/// A query string axum could not decode is a 400 in the ⚑ shape, like any other bad input.
pub fn bad_query(e: QueryRejection) -> AppError {
    AppError::BadRequest("invalid_query", e.body_text())
}

#[utoipa::path(
    get,
    path = "/api/admin/paliadin/stats",
    tag = "admin",
    params(StatsQuery),
    responses(
        (status = 200, description = "The figures", body = Stats),
        (status = 400, description = "Invalid window", body = ErrorBody),
        (status = 404, description = "Not an admin", body = ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn stats(
    State(st): State<AppState>,
    Admin(_): Admin,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Json<Stats>, AppError> {
    let Query(q) = query.map_err(bad_query)?;
    let window = q.window.as_deref().unwrap_or(DEFAULT_WINDOW);
    let secs = parse_window(window).ok_or_else(|| {
        AppError::BadRequest(
            "invalid_window",
            "window must be a number and a unit (s, m, h, d), from 1m to 7d, e.g. 1h".into(),
        )
    })?;
    Ok(Json(stats::collect(&st.pool, window, secs).await?))
}

#[cfg(test)]
mod tests {
    use super::parse_window;

    #[test]
    fn windows_parse_within_bounds() {
        assert_eq!(parse_window("1h"), Some(3600));
        assert_eq!(parse_window("30m"), Some(1800));
        assert_eq!(parse_window("7d"), Some(604_800));
        assert_eq!(parse_window("60s"), Some(60));
        assert_eq!(parse_window("168h"), Some(604_800));
        for bad in [
            "",
            "h",
            "1",
            "0m",
            "59s",
            "8d",
            "169h",
            "1.5h",
            "-1h",
            "1H",
            "1 h",
            "1hh",
            "99999999d",
            "１h",
        ] {
            assert_eq!(parse_window(bad), None, "{bad:?}");
        }
    }
}

//! `GET /api/paliadin/stream/{turn_id}`: replay from `turn_events` after `Last-Event-ID`, then
//! live events, with no gap and no duplicate, on any API instance, for queued, running or long
//! finished turns. Ends after the terminal event, when the client leaves, or on shutdown.

use crate::auth::Owner;
use crate::error::AppError;
use crate::hub::Subscription;
use crate::metrics::SseGuard;
use crate::routes::stream_slots::StreamSlot;
use crate::routes::turns::turn_id;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use paliadin_shared::db::events::{self, EventRow};
use std::collections::VecDeque;

use std::convert::Infallible;
use std::time::Duration;
use uuid::Uuid;

/// Most events read from the database at once: a replay is paged, never loaded whole.
const PAGE: i64 = 32;

/// How long a browser waits before reconnecting (SSE `retry:`).
const RETRY: Duration = Duration::from_secs(2);

/// The seq a stream resumes after: the `Last-Event-ID` header, a non-negative integer (blank
/// or absent: 0, from the start); anything else is `400 invalid_last_event_id`. Public for the
/// property tests (`api/tests/prop_last_event_id.rs`).
pub fn last_event_id(headers: &HeaderMap) -> Result<i32, AppError> {
    match headers.get("last-event-id") {
        None => Ok(0),
        Some(v) => v
            .to_str()
            .ok()
            .map(str::trim)
            .and_then(|s| {
                if s.is_empty() {
                    Some(0)
                } else {
                    s.parse::<i32>().ok()
                }
            })
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                AppError::BadRequest(
                    "invalid_last_event_id",
                    "Last-Event-ID must be a non-negative integer".into(),
                )
            }),
    }
}

#[utoipa::path(get, path = "/api/paliadin/stream/{id}", tag = "owner",
    params(
        ("id" = Uuid, Path, description = "The turn id"),
        ("Last-Event-ID" = Option<i32>, Header, description = "Resume after this event seq"),
    ),
    responses(
        (status = 200, description = "Server-sent events: meta, status, activity, content, then end, error or cancelled", content_type = "text/event-stream", body = String),
        (status = 400, description = "Invalid Last-Event-ID", body = crate::openapi::ErrorBody),
        (status = 404, description = "Unknown turn, or not the caller's", body = crate::openapi::ErrorBody),
        (status = 429, description = "Too many streams open for this user (`too_many_streams`)", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn stream(
    State(st): State<AppState>,
    Owner(user): Owner,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let id = turn_id(&raw)?;
    let after = last_event_id(&headers)?;
    let turn = paliadin_shared::db::turns::get_owned(&st.pool, id, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    // Subscribe before the first read, so nothing committed after it can be missed.
    let notices = st.hub.subscribe(id);
    // A finished turn whose terminal event the client already has: the stream is empty and ends.
    let pump = if turn.is_finished() && after >= turn.last_seq {
        None
    } else {
        let max = st.config.max_streams_per_user;
        let slot = st.streams.take(user.id, max).ok_or_else(|| {
            AppError::TooManyStreams(format!(
                "at most {max} streams may be open at once; close one first"
            ))
        })?;
        Some(Pump {
            _open: st.metrics.sse_stream(),
            _slot: slot,
            st: st.clone(),
            id,
            last: after,
            notices,
            first: true,
            rows: VecDeque::new(),
            read_now: true,
            done: false,
        })
    };
    let sse = Sse::new(events_of(pump)).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(st.config.sse_keepalive_secs))
            .text("keep-alive"),
    );
    let mut resp = sse.into_response();
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// The stream's events: no task and no channel per stream — the response body itself reads
/// the turn's events when the client is ready for more (an idle stream is one parked future).
fn events_of(pump: Option<Pump>) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(pump, |pump| async move {
        let mut pump = pump?;
        let ev = pump.next().await?;
        Some((Ok(ev), Some(pump)))
    })
}

/// One stream's place in its turn's events: replays after `last`, then follows the hub until
/// the terminal event, a database error (the client reconnects), or shutdown.
struct Pump {
    _open: SseGuard,
    _slot: StreamSlot,
    st: AppState,
    id: Uuid,
    last: i32,
    notices: Subscription,
    first: bool,
    /// Read but not yet sent (at most one page).
    rows: VecDeque<EventRow>,
    /// Read the next page without waiting: the stream starts, or the last page was full.
    read_now: bool,
    done: bool,
}

impl Pump {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if self.done || self.st.shutdown.is_cancelled() {
                return None;
            }
            if let Some(row) = self.rows.pop_front() {
                return Some(self.event(row));
            }
            if !self.read_now {
                // Wait until something may have changed for this turn.
                tokio::select! {
                    _ = self.st.shutdown.cancelled() => return None,
                    _ = self.notices.changed(self.last) => {}
                }
            }
            let rows = match events::page_after(&self.st.pool, self.id, self.last, PAGE).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(turn_id = %self.id, error = %e, "stream catch-up failed; the client will reconnect");
                    return None;
                }
            };
            // More of the replay is waiting: read the next page once this one is sent.
            self.read_now = rows.len() as i64 == PAGE;
            self.rows.extend(rows);
        }
    }

    fn event(&mut self, row: EventRow) -> Event {
        let mut ev = Event::default()
            .id(row.seq.to_string())
            .event(row.kind.as_str())
            .data(row.data.to_string());
        if self.first {
            ev = ev.retry(RETRY);
            self.first = false;
        }
        self.st.metrics.sse_sent(row.kind.as_str());
        self.last = row.seq;
        if row.kind.is_terminal() {
            self.done = true;
            self.rows.clear();
        }
        ev
    }
}

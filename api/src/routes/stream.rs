//! `GET /api/paliadin/stream/{turn_id}`: replay from `turn_events` after `Last-Event-ID`, then
//! live events, with no gap and no duplicate, on any API instance, for queued, running or long
//! finished turns. Ends after the terminal event, when the client leaves, or on shutdown.

use crate::auth::Owner;
use crate::error::AppError;
use crate::hub::Subscription;
use crate::routes::turns::turn_id;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use paliadin_shared::db::events;

use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
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
    let (tx, rx) = mpsc::channel::<Event>(64);
    // A finished turn whose terminal event the client already has: the stream is empty and ends.
    if !(turn.is_finished() && after >= turn.last_seq) {
        let max = st.config.max_streams_per_user;
        let slot = st.streams.take(user.id, max).ok_or_else(|| {
            AppError::TooManyStreams(format!(
                "at most {max} streams may be open at once; close one first"
            ))
        })?;
        let st = st.clone();
        tokio::spawn(async move {
            let _slot = slot;
            pump(st, id, after, notices, tx).await;
        });
    }
    let sse = Sse::new(to_stream(rx)).keep_alive(
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

fn to_stream(rx: mpsc::Receiver<Event>) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::StreamExt::map(ReceiverStream::new(rx), Ok)
}

/// Reads events after `last` and forwards them until the terminal one; waits on the hub between.
async fn pump(
    st: AppState,
    id: Uuid,
    mut last: i32,
    notices: Subscription,
    tx: mpsc::Sender<Event>,
) {
    let _open = st.metrics.sse_stream();
    let mut first = true;
    loop {
        let rows = match events::page_after(&st.pool, id, last, PAGE).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(turn_id = %id, error = %e, "stream catch-up failed; the client will reconnect");
                return;
            }
        };
        let full = rows.len() as i64 == PAGE;
        for row in rows {
            let mut ev = Event::default()
                .id(row.seq.to_string())
                .event(row.kind.as_str())
                .data(row.data.to_string());
            if first {
                ev = ev.retry(RETRY);
                first = false;
            }
            tokio::select! {
                sent = tx.send(ev) => if sent.is_err() { return },
                // A client that stopped reading does not hold shutdown up.
                _ = st.shutdown.cancelled() => return,
            }
            st.metrics.sse_sent(row.kind.as_str());
            last = row.seq;
            if row.kind.is_terminal() {
                return;
            }
        }
        if full {
            // More of the replay is waiting: read the next page once this one is sent.
            if st.shutdown.is_cancelled() {
                return;
            }
            continue;
        }
        // Wait until something may have changed for this turn.
        tokio::select! {
            _ = st.shutdown.cancelled() => return,
            _ = tx.closed() => return,
            _ = notices.changed(last) => {}
        }
    }
}

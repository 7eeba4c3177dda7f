//! `GET /api/paliadin/conversations/{session_id}/terminal`: the agent's terminal, live and
//! read-only, as server-sent events (`docs/web.md`, "Terminal").
//!
//! The API does not run tmux: it opens a view (`terminal_views`), a worker serving the owner's
//! host publishes frames of the pane into it, and the hub wakes this stream on each one
//! (`paliadin_terminal_frames`, `view:seq`). Each frame is a whole screen (`capture-pane -e`,
//! with colours), so a slow client simply gets the newest one. The stream renews the view while
//! the client is connected and closes it when the client leaves.
//!
//! SSE and not a WebSocket: the view is one-way by design. A GET with no request body has no
//! way to carry a key to the pane, it uses the page's cookie, CSP `connect-src 'self'`, the
//! hub and the per-user stream limits like every other stream, and passes proxies unchanged.
//!
//! Who may look: the conversation's owner; an admin only when `PALIADIN_ADMIN_TERMINAL=true`,
//! and each such view is logged (tracing, and its `terminal_views` row is kept). Everyone else
//! gets the 404 of an unrouted path, also for a conversation that does not exist.

use crate::auth::AuthUser;
use crate::error::AppError;
use crate::hub::Subscription;
use crate::routes::stream_slots::{StreamSlot, StreamSlots};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use paliadin_shared::db::terminal::{self, Frame, NewView};
use paliadin_shared::db::users::Role;
use serde_json::json;
use std::convert::Infallible;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// Terminal views one user may have open on this API process (more → 429 `too_many_streams`).
pub const MAX_VIEWS_PER_USER: u64 = 4;
/// How long a view lives without a renewal.
const LEASE_SECS: i32 = 15;
/// How often a connected stream renews its view (and re-reads its frame, in case a
/// notification was lost while the hub reconnected).
const RENEW: Duration = Duration::from_secs(5);
/// A worker silent for this long (it says it is there every 2 s) is presumed gone: the view is
/// offered to the other workers.
const STALE_SECS: i32 = 8;
/// How long a browser waits before reconnecting (SSE `retry:`).
const RETRY: Duration = Duration::from_secs(3);
/// With no frame after this long, the stream says no worker shows the pane (and keeps waiting).
const NO_WORKER: Duration = Duration::from_secs(10);

/// Open terminal views per user on this process.
static VIEWS: LazyLock<Arc<StreamSlots>> = LazyLock::new(Arc::default);

#[utoipa::path(get, path = "/api/paliadin/conversations/{session_id}/terminal", tag = "owner",
    params(("session_id" = Uuid, Path, description = "The conversation")),
    responses(
        (status = 200, description = "Server-sent events, each with its frame's number as id: `screen` {seq, cols, rows, cursor_x, cursor_y, screen} — the whole visible pane with its colours (ANSI SGR), lines separated by \\n; `problem` {seq, message} — why the pane cannot be shown now (no session yet, host unreachable). Read-only: nothing is ever sent to the pane.", content_type = "text/event-stream", body = String),
        (status = 404, description = "Unknown conversation, or not the caller's (an admin's unless PALIADIN_ADMIN_TERMINAL=true)", body = crate::openapi::ErrorBody),
        (status = 429, description = "Too many terminal views open for this user (`too_many_streams`)", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn terminal(
    State(st): State<AppState>,
    AuthUser(viewer): AuthUser,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let session_id = Uuid::parse_str(&raw).map_err(|_| AppError::NotFound)?;
    let (owner, by_admin) = match viewer.role {
        Role::Owner => {
            if !terminal::owns_conversation(&st.pool, viewer.id, session_id).await? {
                return Err(AppError::NotFound);
            }
            (viewer.id, false)
        }
        Role::Admin if st.config.admin_terminal => {
            let owner = terminal::conversation_owner(&st.pool, session_id)
                .await?
                .ok_or(AppError::NotFound)?;
            (owner, true)
        }
        _ => return Err(AppError::NotFound),
    };
    let slot = VIEWS.take(viewer.id, MAX_VIEWS_PER_USER).ok_or_else(|| {
        AppError::TooManyStreams(format!(
            "at most {MAX_VIEWS_PER_USER} terminal views may be open at once; close one first"
        ))
    })?;
    let id = Uuid::now_v7();
    // Subscribe before the view exists, so no frame can be missed.
    let notices = st.hub.subscribe(id);
    let pane = terminal::pane_of(&st.pool, owner).await?;
    let view = match pane {
        Some((host, Some(session_name))) => {
            // The conversation's agent is a window of the owner's session.
            let session_name = match paliadin_shared::SessionName::parse(&session_name) {
                Ok(s) => s.for_conversation(session_id).to_string(),
                Err(_) => session_name,
            };
            let v = NewView {
                id,
                owner,
                viewer: viewer.id,
                by_admin,
                session_id,
                host,
                session_name,
                lease_secs: LEASE_SECS,
            };
            terminal::open(&st.pool, &v).await?;
            Some(Open {
                pool: st.pool.clone(),
                id,
            })
        }
        _ => None,
    };
    if by_admin {
        tracing::warn!(admin = %viewer.id, admin_email = %viewer.email, owner = %owner,
            %session_id, view = %id, "an admin opened an owner's terminal (PALIADIN_ADMIN_TERMINAL)");
    } else {
        tracing::info!(%session_id, view = %id, "terminal view opened");
    }
    let pump = Pump {
        _slot: slot,
        st: st.clone(),
        view,
        notices,
        last: 0,
        renew_at: Instant::now() + RENEW,
        unserved_at: Some(Instant::now() + NO_WORKER),
        first: true,
        done: false,
    };
    let sse = Sse::new(frames_of(pump)).keep_alive(
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

/// An open view; closed (its frame dropped at once) when the stream ends for any reason.
struct Open {
    pool: sqlx::PgPool,
    id: Uuid,
}

impl Drop for Open {
    fn drop(&mut self) {
        let (pool, id) = (self.pool.clone(), self.id);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = terminal::close(&pool, id).await {
                    // Its lease runs out within LEASE_SECS anyway.
                    tracing::warn!(view = %id, error = %e, "cannot close a terminal view");
                }
            });
        }
    }
}

fn frames_of(pump: Pump) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(pump, |mut pump| async move {
        let ev = pump.next().await?;
        Some((Ok(ev), pump))
    })
}

/// One stream: waits for frames of its view, renews it, ends on shutdown or a database error
/// (the browser reconnects: a new view).
struct Pump {
    _slot: StreamSlot,
    st: AppState,
    /// None: the owner has no session yet; the stream says so and ends.
    view: Option<Open>,
    notices: Subscription,
    last: i32,
    renew_at: Instant,
    /// When to say that no worker shows the pane, until the first frame.
    unserved_at: Option<Instant>,
    first: bool,
    done: bool,
}

impl Pump {
    async fn next(&mut self) -> Option<Event> {
        if self.done || self.st.shutdown.is_cancelled() {
            return None;
        }
        let Some(view) = &self.view else {
            self.done = true;
            let data = json!({
                "seq": 1,
                "message": "This conversation has no terminal yet: the agent starts with its first message.",
            });
            return Some(self.event(1, "problem", data));
        };
        let id = view.id;
        loop {
            match terminal::frame_after(&self.st.pool, id, self.last).await {
                Ok(Some(frame)) => return Some(self.frame(frame)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(view = %id, error = %e, "terminal frame read failed; the client reconnects");
                    return None;
                }
            }
            let unserved = self.unserved_at.filter(|_| self.last == 0);
            tokio::select! {
                _ = self.st.shutdown.cancelled() => return None,
                _ = self.notices.changed(self.last) => {}
                _ = tokio::time::sleep_until(unserved.unwrap_or(self.renew_at)), if unserved.is_some() => {
                    self.unserved_at = None;
                    let data = json!({
                        "seq": 0,
                        "message": "No worker shows this terminal yet: is a worker serving the conversation's host running?",
                    });
                    return Some(self.event(0, "problem", data));
                }
                _ = tokio::time::sleep_until(self.renew_at) => {
                    self.renew_at = Instant::now() + RENEW;
                    match terminal::renew(&self.st.pool, id, LEASE_SECS, STALE_SECS).await {
                        Ok(true) => {}
                        Ok(false) | Err(_) => return None,
                    }
                }
            }
        }
    }

    fn frame(&mut self, f: Frame) -> Event {
        self.last = f.seq;
        match (f.screen, f.problem) {
            (Some(screen), _) => {
                let data = json!({
                    "seq": f.seq,
                    "cols": f.cols,
                    "rows": f.rows,
                    "cursor_x": f.cursor_x,
                    "cursor_y": f.cursor_y,
                    "screen": screen,
                });
                self.event(f.seq, "screen", data)
            }
            (None, problem) => {
                let message = problem.unwrap_or_else(|| "The pane cannot be shown.".into());
                self.event(
                    f.seq,
                    "problem",
                    json!({ "seq": f.seq, "message": message }),
                )
            }
        }
    }

    fn event(&mut self, seq: i32, kind: &str, data: serde_json::Value) -> Event {
        let mut ev = Event::default()
            .id(seq.to_string())
            .event(kind)
            .data(data.to_string());
        if self.first {
            ev = ev.retry(RETRY);
            self.first = false;
        }
        ev
    }
}

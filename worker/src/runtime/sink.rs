//! `EventSink`: the [`Progress`] a driver reports to, turned into fenced, durable events.
//!
//! Every write carries the attempt this worker claimed; if another worker has taken the turn
//! over, the write changes nothing and the sink tells the turn to stop (`lost`).

use crate::driver::Progress;
use async_trait::async_trait;
use paliadin_shared::db::{events, turns};
use paliadin_shared::events::{NewEvent, StatusState};
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct EventSink {
    pub pool: PgPool,
    pub turn_id: Uuid,
    pub attempt: i32,
    pub worker_id: String,
    pub host: String,
    /// Fired when a write finds the turn fenced (the lease moved on).
    pub lost: CancellationToken,
    /// `status: answering` is sent once, before the first content or activity.
    answering: AtomicBool,
}

impl EventSink {
    pub fn new(
        pool: PgPool,
        turn_id: Uuid,
        attempt: i32,
        worker_id: String,
        host: String,
        lost: CancellationToken,
    ) -> Self {
        EventSink {
            pool,
            turn_id,
            attempt,
            worker_id,
            host,
            lost,
            answering: AtomicBool::new(false),
        }
    }

    /// Appends one event; false when fenced out or on a database error.
    pub async fn write(&self, ev: NewEvent) -> bool {
        let mut conn = match self.pool.acquire().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot write event");
                return false;
            }
        };
        match events::append(&mut conn, self.turn_id, Some(self.attempt), &ev).await {
            Ok(Some(_)) => true,
            Ok(None) => {
                tracing::warn!("event write fenced out: another attempt owns this turn");
                self.lost.cancel();
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot write event");
                false
            }
        }
    }

    pub async fn status(&self, state: StatusState) -> bool {
        self.write(NewEvent::status(
            state,
            Some(&self.worker_id),
            Some(&self.host),
        ))
        .await
    }

    async fn answering(&self) {
        if !self.answering.swap(true, Ordering::SeqCst) {
            self.status(StatusState::Answering).await;
        }
    }
}

#[async_trait]
impl Progress for EventSink {
    async fn delivered(&self) {
        match turns::mark_delivered(&self.pool, self.turn_id, self.attempt).await {
            Ok(true) => {
                self.status(StatusState::Delivered).await;
            }
            Ok(false) => self.lost.cancel(),
            Err(e) => tracing::warn!(error = %e, "cannot record delivery"),
        }
    }

    async fn content(&self, delta: &str) {
        if delta.is_empty() {
            return;
        }
        self.answering().await;
        self.write(NewEvent::content(delta)).await;
    }

    async fn activity(&self, text: &str) {
        self.answering().await;
        self.write(NewEvent::activity(text)).await;
    }
}

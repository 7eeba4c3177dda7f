//! `EventSink`: the [`Progress`] a driver reports to, turned into the attempt's fenced, durable
//! events (a write that finds the turn fenced makes the attempt let go, see
//! [`Attempt::append`]).

use crate::driver::Progress;
use async_trait::async_trait;
use paliadin_shared::attempt::Attempt;
use paliadin_shared::events::{NewEvent, StatusState};
use std::sync::atomic::{AtomicBool, Ordering};

pub struct EventSink<'a> {
    attempt: &'a Attempt,
    /// `status: answering` is sent once, before the first content or activity.
    answering: AtomicBool,
}

impl<'a> EventSink<'a> {
    pub fn new(attempt: &'a Attempt) -> Self {
        EventSink {
            attempt,
            answering: AtomicBool::new(false),
        }
    }

    async fn answering(&self) {
        if !self.answering.swap(true, Ordering::SeqCst) {
            self.attempt.status(StatusState::Answering).await;
        }
    }
}

#[async_trait]
impl Progress for EventSink<'_> {
    async fn delivered(&self) {
        self.attempt.mark_delivered().await;
    }

    async fn content(&self, delta: &str) {
        if delta.is_empty() {
            return;
        }
        self.answering().await;
        self.attempt.append(&NewEvent::content(delta)).await;
    }

    async fn activity(&self, text: &str) {
        self.answering().await;
        self.attempt.append(&NewEvent::activity(text)).await;
    }
}

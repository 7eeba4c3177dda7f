//! What wakes the claim loop: notifications on the LISTEN connection (new work, cancels,
//! permission decisions; terminal views, passed on to `crate::terminal`) and
//! slots freed by finished turns.

use crate::driver::TurnControl;
use paliadin_shared::db::terminal::TERMINAL_CHANNEL;
use paliadin_shared::db::{CANCEL_CHANNEL, PERMISSION_CHANNEL, WORK_CHANNEL};
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgNotification};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, OwnedSemaphorePermit};
use uuid::Uuid;

/// A running turn's place in the worker: freed when its task ends, also by a panic.
pub(super) struct Slot {
    pub(super) turn_id: Uuid,
    pub(super) running: Arc<Mutex<HashMap<Uuid, TurnControl>>>,
    pub(super) freed: Arc<Notify>,
    pub(super) _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&self.turn_id);
        }
        self.freed.notify_one();
    }
}

pub(super) async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut l = PgListener::connect_with(pool).await.ok()?;
    l.listen_all([
        WORK_CHANNEL,
        CANCEL_CHANNEL,
        PERMISSION_CHANNEL,
        TERMINAL_CHANNEL,
    ])
    .await
    .ok()?;
    Some(l)
}

/// Next notification; `None` when the connection dropped (polling covers the gap).
pub(super) async fn recv(listener: &mut Option<PgListener>) -> Option<PgNotification> {
    match listener {
        Some(l) => l.try_recv().await.ok().flatten(),
        None => std::future::pending().await,
    }
}

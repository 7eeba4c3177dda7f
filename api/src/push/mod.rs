//! Web Push notifications (`docs/web.md`, "Notifications"): when a turn of an owner who
//! subscribed finishes (`end`), fails (`error`) or waits for their permission (`permission`),
//! their browsers get a push, even with the page closed.
//!
//! # Layout
//! - [`vapid`]: the API's key pair (generated once, kept in PostgreSQL) and the signed
//!   `Authorization` header.
//! - [`subscription`]: the browser's `PushSubscription`, validated.
//! - [`payload`]: what a push says (little: it passes through the browser vendor's service).
//! - [`sender`]: the loop that drains the outbox the `turn_events` trigger fills.
//!
//! The routes are in [`crate::routes::push`].

pub mod payload;
pub mod sender;
pub mod subscription;
pub mod vapid;

use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use vapid::Vapid;

/// The push side of the API process: its VAPID identity and its running sender.
pub struct Push {
    pub vapid: Arc<Vapid>,
}

impl Push {
    /// Loads (or, on the very first start, generates) the VAPID key and starts the sender,
    /// woken through `wake` by the outbox trigger's notifications; it stops on `shutdown`.
    pub async fn start(
        pool: PgPool,
        subject: String,
        wake: Arc<Notify>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Push> {
        let vapid = Arc::new(Vapid::load(&pool, subject).await?);
        let sender = sender::Sender::new(pool, vapid.clone(), wake)?;
        tokio::spawn(sender.run(shutdown));
        Ok(Push { vapid })
    }
}

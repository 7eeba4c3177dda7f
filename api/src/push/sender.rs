//! The sender loop: drains `push_outbox` and POSTs each push, encrypted for its subscription
//! (RFC 8291, `aes128gcm`) and signed with the API's VAPID key (RFC 8292), to the browser's
//! push service.
//!
//! Every API process runs one. Rows are claimed with `FOR UPDATE SKIP LOCKED` and a lease that
//! commits at once, so several processes share the outbox without sending a row twice, no
//! transaction stays open during a POST, and a process that dies mid-send leaves its rows to be
//! claimed again after [`CLAIM_LEASE`] (at-least-once; the service worker folds duplicates by
//! their tag). A sent row is deleted; 404/410 delete the subscription; 429, 5xx and network
//! errors are retried with backoff up to [`MAX_TRIES`] times; other refusals are dropped.
//!
//! It wakes on the trigger's `paliadin_push` notification (through the event hub's LISTEN
//! connection, see [`crate::hub`]) and otherwise sleeps until the next retry is due.

use super::payload;
use super::vapid::Vapid;
use axum::http::{HeaderValue, Uri, header};
use futures::StreamExt;
use paliadin_shared::db::push::{self, Due};
use paliadin_shared::events::EventKind;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use web_push_native::{Auth, WebPushBuilder};

/// Rows claimed at once.
const BATCH: i64 = 32;
/// Pushes in flight at once.
const PARALLEL: usize = 8;
/// How long a claimed row stays invisible to other senders.
const CLAIM_LEASE: Duration = Duration::from_secs(60);
/// Attempts before a push is given up.
pub const MAX_TRIES: i32 = 5;
/// How long the push service keeps a push for a browser that is offline (`TTL`).
const PUSH_TTL: Duration = Duration::from_secs(24 * 3600);
/// Longest sleep without a wake-up (a lost notification costs at most this).
const IDLE: Duration = Duration::from_secs(60);

pub struct Sender {
    pool: PgPool,
    http: reqwest::Client,
    vapid: Arc<Vapid>,
    wake: Arc<Notify>,
}

/// What became of one push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Sent,
    Gone,
    Retry,
    Refused,
}

impl Sender {
    pub fn new(pool: PgPool, vapid: Arc<Vapid>, wake: Arc<Notify>) -> anyhow::Result<Sender> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            // Push services answer directly; following redirects would only widen where the
            // API can be made to send requests.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Sender {
            pool,
            http,
            vapid,
            wake,
        })
    }

    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let wait = match self.drain().await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => self.until_next_due().await,
                Err(e) => {
                    tracing::warn!(error = %e, "push outbox: claim failed");
                    Duration::from_secs(5)
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn until_next_due(&self) -> Duration {
        match push::next_due(&self.pool).await {
            Ok(Some(at)) => (at - chrono::Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(IDLE),
            Ok(None) => IDLE,
            Err(_) => Duration::from_secs(5),
        }
    }

    /// Claims one batch and sends it; the number claimed.
    async fn drain(&self) -> Result<usize, sqlx::Error> {
        let rows = push::claim(&self.pool, BATCH, CLAIM_LEASE.as_secs_f64()).await?;
        let n = rows.len();
        futures::stream::iter(rows)
            .for_each_concurrent(PARALLEL, |due| async move {
                let fate = self.deliver(&due).await;
                if let Err(e) = self.record(&due, fate).await {
                    tracing::warn!(error = %e, id = due.id, "push outbox: cannot record a send");
                }
            })
            .await;
        Ok(n)
    }

    async fn deliver(&self, due: &Due) -> Fate {
        let (fate, detail) = match self.post(due).await {
            Ok(status) if status.is_success() => (Fate::Sent, String::new()),
            Ok(status) if status == 404 || status == 410 => (Fate::Gone, status.to_string()),
            Ok(status) if status == 429 || status.is_server_error() => {
                (Fate::Retry, status.to_string())
            }
            Ok(status) => (Fate::Refused, status.to_string()),
            Err(e) => (Fate::Retry, e),
        };
        if fate == Fate::Sent {
            tracing::debug!(turn_id = %due.turn_id, kind = %due.kind, "push sent");
        } else {
            tracing::info!(turn_id = %due.turn_id, kind = %due.kind, tries = due.tries,
                fate = ?fate, detail = %detail, "push not delivered");
        }
        fate
    }

    async fn record(&self, due: &Due, fate: Fate) -> Result<(), sqlx::Error> {
        match fate {
            Fate::Sent => push::sent(&self.pool, due).await,
            Fate::Gone => push::forget(&self.pool, due.subscription_id).await,
            Fate::Retry if due.tries < MAX_TRIES => {
                let backoff = 10.0 * 2f64.powi(due.tries - 1);
                push::retry_later(&self.pool, due.id, backoff.min(900.0), "not delivered").await
            }
            Fate::Retry | Fate::Refused => push::give_up(&self.pool, due.id).await,
        }
    }

    /// Encrypts, signs and POSTs one push; the push service's status.
    async fn post(&self, due: &Due) -> Result<reqwest::StatusCode, String> {
        let body = payload::build(due.kind, &due.data, due.turn_id, due.session_id);
        let json = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        let url = reqwest::Url::parse(&due.endpoint).map_err(|e| e.to_string())?;
        let uri: Uri = due.endpoint.parse().map_err(|e| format!("endpoint: {e}"))?;
        let key = p256::PublicKey::from_sec1_bytes(&due.p256dh).map_err(|e| e.to_string())?;
        let auth: [u8; 16] = due
            .auth
            .as_slice()
            .try_into()
            .map_err(|_| "auth: not 16 bytes")?;
        let mut req = WebPushBuilder::new(uri, key, Auth::from(auth))
            .with_valid_duration(PUSH_TTL)
            .build(json)
            .map_err(|e| e.to_string())?;
        let auth = self
            .vapid
            .authorization(&url.origin().ascii_serialization());
        let h = req.headers_mut();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&auth).map_err(|e| e.to_string())?,
        );
        let urgency = if due.kind == EventKind::Permission {
            "high"
        } else {
            "normal"
        };
        h.insert("urgency", HeaderValue::from_static(urgency));
        let req = reqwest::Request::try_from(req).map_err(|e| e.to_string())?;
        let resp = self.http.execute(req).await.map_err(|e| e.to_string())?;
        Ok(resp.status())
    }
}

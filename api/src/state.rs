//! Shared state of the API process.

use crate::config::ApiConfig;
use crate::hub::Hub;
use crate::metrics::ApiMetrics;
use crate::push::Push;
use paliadin_shared::HostName;
use paliadin_shared::queue::TurnQueue;
use sqlx::PgPool;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// pgmq wrapper for enqueueing and cancelling.
    pub queue: Arc<TurnQueue>,
    /// Fan-out of the one LISTEN connection to all SSE streams.
    pub hub: Arc<Hub>,
    pub config: Arc<ApiConfig>,
    /// Fallback host for users not pinned yet.
    pub default_host: HostName,
    /// Fires on shutdown: every stream ends.
    pub shutdown: CancellationToken,
    /// This process's Prometheus metrics (`GET /metrics`).
    pub metrics: Arc<ApiMetrics>,
    /// Web Push: the VAPID key (its sender runs until `shutdown`).
    pub push: Arc<Push>,
    /// Open SSE streams per user (`PALIADIN_MAX_STREAMS_PER_USER`).
    pub streams: Arc<crate::routes::stream_slots::StreamSlots>,
}

impl AppState {
    pub async fn new(
        pool: PgPool,
        config: ApiConfig,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let default_host = HostName::parse(&config.default_host)?;
        let queue = Arc::new(TurnQueue::new(pool.clone()).await);
        let hub = Hub::spawn(pool.clone(), shutdown.clone());
        let push = Push::start(
            pool.clone(),
            config.vapid_subject.clone(),
            hub.push_wake(),
            shutdown.clone(),
        )
        .await?;
        Ok(AppState {
            pool,
            queue,
            hub,
            config: Arc::new(config),
            default_host,
            shutdown,
            metrics: Arc::new(ApiMetrics::new()),
            push: Arc::new(push),
            streams: Default::default(),
        })
    }
}

//! Draining a host (`PALIADIN_DRAIN=h1,…`, set on every worker that serves it): the host stops
//! taking new users and its users move off it as soon as they are idle, while their turns in
//! flight finish where they are.
//!
//! - [`Draining`] wraps the host's driver: turns run as usual, but its reachability is reported
//!   as `draining`, so the `hosts` row says unreachable and no new user is pinned there.
//! - [`run`] re-pins, every `every`, each user of a draining host who has no turn queued or
//!   running to the healthy host with the fewest users (a fresh session there); a busy user is
//!   retried next round. The host is empty when no `agent_sessions` row names it.

use crate::driver::{DriveError, Driver, Progress, TurnControl, TurnSpec};
use async_trait::async_trait;
use paliadin_shared::db::{DbError, failover};
use paliadin_shared::domain::trailer::Reply;
use paliadin_shared::{HostName, SessionName};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A host's driver while the host drains.
pub struct Draining(pub Arc<dyn Driver>);

#[async_trait]
impl Driver for Draining {
    async fn run_turn(
        &self,
        spec: &TurnSpec,
        progress: &dyn Progress,
        control: &TurnControl,
    ) -> Result<Reply, DriveError> {
        self.0.run_turn(spec, progress, control).await
    }

    async fn reset(&self, user: uuid::Uuid, session: &SessionName) -> Result<(), DriveError> {
        self.0.reset(user, session).await
    }

    async fn settle(&self, user: uuid::Uuid, turn: uuid::Uuid) {
        self.0.settle(user, turn).await
    }

    async fn stop_idle(&self, idle: std::time::Duration) -> usize {
        self.0.stop_idle(idle).await
    }

    async fn live_conversations(&self) -> Option<crate::contract::LiveAgents> {
        self.0.live_conversations().await
    }

    async fn close(&self) {
        self.0.close().await
    }

    fn metrics(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        self.0.metrics()
    }

    fn reachability(&self) -> Result<(), String> {
        self.0.reachability()?;
        Err("draining: no new users; idle users are moved off".into())
    }
}

/// Moves idle users off the draining `hosts` until `stop`.
pub async fn run(pool: PgPool, hosts: Vec<HostName>, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        for host in &hosts {
            match round(&pool, host).await {
                Ok((0, 0)) => {}
                Ok((moved, left)) => tracing::info!(host = %host, moved, left, "draining"),
                Err(e) => tracing::warn!(host = %host, error = %e, "draining failed"),
            }
        }
    }
}

/// One pass over a host's users: `(moved, still pinned)`.
async fn round(pool: &PgPool, host: &HostName) -> Result<(usize, usize), DbError> {
    let users = failover::pinned_users(pool, host, 200).await?;
    let mut moved = 0;
    for user in &users {
        let Some(to) = failover::healthy_target(pool, host).await? else {
            tracing::warn!(host = %host, "draining: no healthy host to move users to");
            break;
        };
        if failover::move_if_idle(pool, *user, host, &to).await? {
            tracing::info!(user = %user, from = %host, to = %to, "draining: user moved");
            moved += 1;
        }
    }
    Ok((moved, users.len() - moved))
}

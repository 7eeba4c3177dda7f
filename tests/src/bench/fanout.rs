//! SSE fan-out: N idle streams held open on the one API process (on turns queued for a host no
//! worker serves), then the API's RSS per stream and its database connections.

use super::rig::Rig;
use futures::StreamExt;
use std::time::Instant;

/// Idle streams (kept open while they live) and what opening them cost.
pub struct Idle {
    _streams: Vec<Box<dyn futures::Stream<Item = crate::http::SseEvent> + Unpin + Send>>,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub open_secs: f64,
}

/// Opens `n` idle streams spread over up to 200 turns of one user pinned to host `idle`.
pub async fn open_idle(rig: &Rig, n: usize) -> anyhow::Result<Idle> {
    let rss_before_kib = rig.api_rss_kib();
    let users = rig.users("idle", 1).await;
    let c = &users[0];
    let uid: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'idle0@bench'")
        .fetch_one(&rig.db.pool)
        .await?;
    sqlx::query("INSERT INTO agent_sessions (user_id, host) VALUES ($1, 'idle')")
        .bind(uid)
        .execute(&rig.db.pool)
        .await?;
    let mut urls = Vec::new();
    for _ in 0..n.clamp(1, 200) {
        urls.push(c.turn("idle").await.1);
    }
    let t = Instant::now();
    let streams: Vec<_> = futures::stream::iter(0..n)
        .map(|i| {
            let (c, url) = (c.clone(), urls[i % urls.len()].clone());
            async move {
                let (status, s) = c.open_stream(&url, None).await;
                anyhow::ensure!(status == 200, "stream status {status}");
                Ok(Box::new(s) as Box<dyn futures::Stream<Item = _> + Unpin + Send>)
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<anyhow::Result<_>>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let open_secs = t.elapsed().as_secs_f64();
    Ok(Idle {
        _streams: streams,
        rss_before_kib,
        rss_after_kib: rig.api_rss_kib(),
        open_secs,
    })
}

/// Connections to the bench database: `(all, LISTEN ones)`.
pub async fn db_connections(pool: &sqlx::PgPool) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE query ILIKE 'LISTEN%')
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(pool)
    .await
    .unwrap_or((0, 0))
}

//! The event hub: one LISTEN connection per API process, fanned out to every open stream.
//!
//! Each notification (`turn_id:seq`) only tells streams "look again"; streams always read the
//! events themselves from `turn_events` after the last seq they sent, so a lost, duplicated or
//! reordered notification can cause neither a gap nor a duplicate. Whenever the listener
//! (re)connects, the hub broadcasts [`Notice::Resync`] *after* its LISTEN is active, and every
//! stream catches up from the table.

use paliadin_shared::db::EVENTS_CHANNEL;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What streams hear from the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// An event of this turn was committed.
    Event { turn_id: Uuid, seq: i32 },
    /// Notifications may have been missed: every stream re-reads its turn.
    Resync,
}

pub struct Hub {
    tx: broadcast::Sender<Notice>,
    connects: AtomicU64,
}

impl Hub {
    /// Starts the listener task; it ends when `shutdown` fires.
    pub fn spawn(pool: PgPool, shutdown: CancellationToken) -> Arc<Hub> {
        let (tx, _) = broadcast::channel(4096);
        let hub = Arc::new(Hub {
            tx,
            connects: AtomicU64::new(0),
        });
        let h = hub.clone();
        tokio::spawn(async move { h.run(pool, shutdown).await });
        hub
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.tx.subscribe()
    }

    /// How many times the listener has connected (1 after start; more after reconnects).
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::SeqCst)
    }

    async fn run(&self, pool: PgPool, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(mut l) => match l.listen(EVENTS_CHANNEL).await {
                    Ok(()) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "LISTEN failed");
                        self.pause(&shutdown, &mut backoff).await;
                        continue;
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "event listener cannot connect");
                    self.pause(&shutdown, &mut backoff).await;
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            self.connects.fetch_add(1, Ordering::SeqCst);
            let _ = self.tx.send(Notice::Resync);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    got = listener.try_recv() => match got {
                        Ok(Some(n)) => {
                            if let Some(notice) = parse(n.payload()) {
                                let _ = self.tx.send(notice);
                            }
                        }
                        Ok(None) | Err(_) => {
                            tracing::warn!("event listener lost its connection; reconnecting");
                            break;
                        }
                    },
                }
            }
        }
    }

    async fn pause(&self, shutdown: &CancellationToken, backoff: &mut Duration) {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(*backoff) => {}
        }
        *backoff = (*backoff * 2).min(Duration::from_secs(5));
    }
}

fn parse(payload: &str) -> Option<Notice> {
    let (id, seq) = payload.split_once(':')?;
    Some(Notice::Event {
        turn_id: Uuid::parse_str(id).ok()?,
        seq: seq.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_notifications() {
        let id = Uuid::new_v4();
        assert_eq!(
            parse(&format!("{id}:7")),
            Some(Notice::Event {
                turn_id: id,
                seq: 7
            })
        );
        assert_eq!(parse("garbage"), None);
    }
}

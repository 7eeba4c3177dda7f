//! The event hub: one LISTEN connection per API process, routed to the streams of each turn.
//!
//! Each notification (`turn_id:seq`) only tells the streams of that turn "look again"
//! ([`router`]); streams always read the events themselves from `turn_events` after the last seq
//! they sent, so a lost, duplicated or reordered notification can cause neither a gap nor a
//! duplicate. Whenever the listener (re)connects, once its LISTEN is active, the hub asks the
//! table for the newest seq of every watched turn and wakes only the streams behind it (all of
//! them if that query fails).
//!
//! The same connection also LISTENs on `paliadin_push` (the push outbox trigger's channel) and
//! wakes this process's push sender ([`Hub::push_wake`]); it wakes it after every (re)connect
//! too, so pushes queued while the listener was down are not left waiting.
//!
//! It LISTENs on `paliadin_terminal_frames` too: a terminal view's new frame (`view_id:seq`) is
//! routed like a turn's event, to the stream of that view (`crate::routes::terminal`).

mod router;

pub use router::{Router, Subscription};

use paliadin_shared::db::EVENTS_CHANNEL;
use paliadin_shared::db::push::PUSH_CHANNEL;
use paliadin_shared::db::terminal::FRAMES_CHANNEL;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct Hub {
    router: Arc<Router>,
    connects: AtomicU64,
    /// Wakes the push sender (`crate::push::sender`).
    push_wake: Arc<Notify>,
}

impl Hub {
    /// Starts the listener task; it ends when `shutdown` fires.
    pub fn spawn(pool: PgPool, shutdown: CancellationToken) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            router: Arc::new(Router::default()),
            connects: AtomicU64::new(0),
            push_wake: Arc::new(Notify::new()),
        });
        let h = hub.clone();
        tokio::spawn(async move { h.run(pool, shutdown).await });
        hub
    }

    /// Subscribes to the events of one turn. Subscribe *before* reading the table, so nothing
    /// committed after the read can be missed.
    pub fn subscribe(&self, turn: Uuid) -> Subscription {
        self.router.subscribe(turn)
    }

    /// How many times the listener has connected (1 after start; more after reconnects).
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::SeqCst)
    }

    /// Notified when the push outbox has new rows (and after every reconnect).
    pub fn push_wake(&self) -> Arc<Notify> {
        self.push_wake.clone()
    }

    /// Subscribers woken so far.
    pub fn wakeups(&self) -> u64 {
        self.router.wakeups()
    }

    async fn run(&self, pool: PgPool, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(mut l) => match l
                    .listen_all([EVENTS_CHANNEL, PUSH_CHANNEL, FRAMES_CHANNEL])
                    .await
                {
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
            self.resync(&pool).await;
            self.push_wake.notify_one();
            self.connects.fetch_add(1, Ordering::SeqCst);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    got = listener.try_recv() => match got {
                        Ok(Some(n)) if n.channel() == PUSH_CHANNEL => self.push_wake.notify_one(),
                        Ok(Some(n)) => {
                            if let Some((turn, seq)) = parse(n.payload()) {
                                self.router.event(turn, seq);
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

    /// After (re)connecting: wakes the streams whose turn has events they may not have heard of.
    async fn resync(&self, pool: &PgPool) {
        let turns = self.router.turns();
        if turns.is_empty() {
            return;
        }
        match paliadin_shared::db::events::newest_seqs(pool, &turns).await {
            Ok(rows) => {
                for (turn, seq) in rows {
                    self.router.event(turn, seq);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "resync query failed; every stream re-reads");
                self.router.resync_all();
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

fn parse(payload: &str) -> Option<(Uuid, i32)> {
    let (id, seq) = payload.split_once(':')?;
    Some((Uuid::parse_str(id).ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_notifications() {
        let id = Uuid::new_v4();
        assert_eq!(parse(&format!("{id}:7")), Some((id, 7)));
        assert_eq!(parse("garbage"), None);
    }
}

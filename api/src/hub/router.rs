//! The map turn → subscribers behind the hub: a notification wakes only the streams of its
//! turn, and only those that have not read that seq yet.
//!
//! Each subscriber owns a [`Slot`]: the highest seq heard for its turn and a [`Notify`] whose
//! stored permit means no wake-up is lost between "check" and "wait". Notifications coalesce in
//! the slot, so there is no bounded channel that can lag and no "everyone re-reads" on overflow.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;
use uuid::Uuid;

/// One subscriber's mailbox.
#[derive(Default)]
struct Slot {
    /// Highest seq notified for the turn since the subscription began.
    heard: AtomicI32,
    /// Set when notifications may have been lost and the turn's events are unknown.
    resync: AtomicBool,
    notify: Notify,
}

/// Subscribers by turn: `(subscription id, slot)`.
type Turns = HashMap<Uuid, Vec<(u64, Arc<Slot>)>>;

#[derive(Default)]
pub struct Router {
    turns: Mutex<Turns>,
    next_id: AtomicU64,
    /// Subscribers woken so far (a counter for tests and the fan-out benchmark).
    wakeups: AtomicU64,
}

/// A stream's interest in one turn; unsubscribes on drop.
pub struct Subscription {
    router: Weak<Router>,
    turn: Uuid,
    id: u64,
    slot: Arc<Slot>,
}

impl Router {
    pub fn subscribe(self: &Arc<Self>, turn: Uuid) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::default());
        self.lock()
            .entry(turn)
            .or_default()
            .push((id, slot.clone()));
        Subscription {
            router: Arc::downgrade(self),
            turn,
            id,
            slot,
        }
    }

    /// Event `seq` of `turn` was committed: wakes that turn's subscribers, nobody else.
    pub fn event(&self, turn: Uuid, seq: i32) {
        let turns = self.lock();
        let Some(subs) = turns.get(&turn) else { return };
        for (_, slot) in subs {
            slot.heard.fetch_max(seq, Ordering::SeqCst);
            slot.notify.notify_one();
        }
        self.wakeups.fetch_add(subs.len() as u64, Ordering::Relaxed);
    }

    /// Notifications may have been lost for every turn: every subscriber re-reads.
    pub fn resync_all(&self) {
        let turns = self.lock();
        let mut n = 0;
        for (_, slot) in turns.values().flatten() {
            slot.resync.store(true, Ordering::SeqCst);
            slot.notify.notify_one();
            n += 1;
        }
        self.wakeups.fetch_add(n, Ordering::Relaxed);
    }

    /// The turns someone is subscribed to.
    pub fn turns(&self) -> Vec<Uuid> {
        self.lock().keys().copied().collect()
    }

    pub fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    /// Open subscriptions.
    pub fn subscribers(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Turns> {
        self.turns.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Subscription {
    /// Highest seq notified for this turn so far (0 when none).
    pub fn heard(&self) -> i32 {
        self.slot.heard.load(Ordering::SeqCst)
    }

    /// Returns once an event after `last` may exist: one was notified, or a resync was asked.
    pub async fn changed(&self, last: i32) {
        loop {
            if self.slot.resync.swap(false, Ordering::SeqCst) || self.heard() > last {
                return;
            }
            self.slot.notify.notified().await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Some(router) = self.router.upgrade() else {
            return;
        };
        let mut turns = router.lock();
        if let Some(subs) = turns.get_mut(&self.turn) {
            subs.retain(|(id, _)| *id != self.id);
            if subs.is_empty() {
                turns.remove(&self.turn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn an_event_wakes_only_the_streams_of_its_turn() {
        let r = Arc::new(Router::default());
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let a1 = r.subscribe(a);
        let a2 = r.subscribe(a);
        let others: Vec<_> = (0..100).map(|_| r.subscribe(b)).collect();
        r.event(a, 3);
        assert_eq!(r.wakeups(), 2, "one event woke other turns' streams");
        assert!(a1.changed(2).now_or_never().is_some());
        assert!(a2.changed(2).now_or_never().is_some());
        // A stream that already read seq 3 keeps waiting.
        assert!(a1.changed(3).now_or_never().is_none());
        assert!(others.iter().all(|s| s.changed(0).now_or_never().is_none()));
        r.event(Uuid::new_v4(), 1);
        assert_eq!(r.wakeups(), 2, "an event nobody watches woke someone");
    }

    #[test]
    fn resync_wakes_everyone_once_and_drop_unsubscribes() {
        let r = Arc::new(Router::default());
        let t = Uuid::new_v4();
        let s = r.subscribe(t);
        r.resync_all();
        assert!(s.changed(i32::MAX).now_or_never().is_some());
        assert!(s.changed(i32::MAX).now_or_never().is_none());
        drop(s);
        assert_eq!((r.subscribers(), r.turns().len()), (0, 0));
    }
}

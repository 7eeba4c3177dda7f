//! `LeaseClock`: the local end of an attempt's lease, shared by the heartbeat (which sets it at
//! the claim and moves it on at each renewal) with whatever drives the turn. A driver asks
//! [`LeaseClock::running`] right before each action on the agent (paste, Enter, Escape): a
//! worker that stalled past its lease refuses to act the moment it wakes, whether or not its
//! heartbeat has run yet and told it to let go.

use std::sync::{Arc, Mutex};
use tokio::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct LeaseClock(Arc<Mutex<Option<Instant>>>);

impl LeaseClock {
    /// The lease runs until `until` (no earlier than the database's visibility timeout).
    pub fn set(&self, until: Instant) {
        *self.0.lock().expect("lease clock") = Some(until);
    }

    /// The lease has not run out. True when no lease was set: a turn run by a host agent,
    /// whose per-turn lock guards it instead (`paliadin-shim`).
    pub fn running(&self) -> bool {
        self.0
            .lock()
            .expect("lease clock")
            .is_none_or(|until| Instant::now() < until)
    }
}

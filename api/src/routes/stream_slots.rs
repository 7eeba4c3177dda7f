//! `StreamSlots`: how many SSE streams each user has open on this process, so one user cannot
//! hold every connection and replay buffer (`PALIADIN_MAX_STREAMS_PER_USER`, else 429).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Open streams per user.
#[derive(Debug, Default)]
pub struct StreamSlots {
    open: Mutex<HashMap<Uuid, u64>>,
}

/// One open stream; dropping it frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    user: Uuid,
}

impl StreamSlots {
    /// A slot for `user` if they have fewer than `max` streams open.
    pub fn take(self: &Arc<Self>, user: Uuid, max: u64) -> Option<StreamSlot> {
        let mut open = self.open.lock().expect("stream slots lock");
        let n = open.entry(user).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            slots: self.clone(),
            user,
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("stream slots lock");
        if let Some(n) = open.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

//! Turn bookkeeping shared by the keyboard thread and the answering thread: which turn runs,
//! which are queued, and which one an interrupt (Esc / Ctrl-C) hits.
//!
//! Turns get sequence numbers in submission order and run one at a time. An interrupt hits the
//! running turn, or, when none runs but one is queued, the next one to start (so an Escape that
//! races the start of a turn is not lost). Waits inside a turn wake up at once on an interrupt.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The current turn was interrupted; stop answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

#[derive(Debug, Default)]
struct State {
    /// Sequence number of the last submitted turn.
    submitted: u64,
    /// Sequence number of the running turn, or of the last one that ran.
    started: u64,
    running: bool,
    /// Every turn with a sequence number up to this one is interrupted.
    interrupted_upto: u64,
    /// A question is open in the terminal (`/dialog`): the next Enter answers it.
    dialog: bool,
}

/// What [`Control::interrupt`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptOutcome {
    /// The running turn (this sequence number) stops.
    Running(u64),
    /// The next queued turn (this sequence number) will stop as soon as it starts.
    Queued(u64),
    /// Nothing to interrupt.
    Idle,
}

#[derive(Debug, Default)]
pub struct Control {
    state: Mutex<State>,
    wake: Condvar,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new turn; returns its sequence number and how many turns are ahead of it.
    pub fn submit(&self) -> (u64, u64) {
        let mut s = self.lock();
        s.submitted += 1;
        let ahead = s.submitted - s.started - u64::from(!s.running);
        (s.submitted, ahead)
    }

    /// The answering thread starts turn `seq`.
    pub fn start(&self, seq: u64) {
        let mut s = self.lock();
        s.started = seq;
        s.running = true;
    }

    /// The answering thread is done with the running turn.
    pub fn finish(&self) {
        self.lock().running = false;
    }

    pub fn interrupt(&self) -> InterruptOutcome {
        let mut s = self.lock();
        let outcome = if s.running {
            s.interrupted_upto = s.started;
            InterruptOutcome::Running(s.started)
        } else if s.submitted > s.started {
            s.interrupted_upto = s.started + 1;
            InterruptOutcome::Queued(s.started + 1)
        } else {
            InterruptOutcome::Idle
        };
        drop(s);
        self.wake.notify_all();
        outcome
    }

    /// Opens a terminal question (`/dialog`, `/dialog-after`).
    pub fn open_dialog(&self) {
        self.lock().dialog = true;
    }

    /// Closes the open question, if any; true when one was open. Wakes a turn waiting on it.
    pub fn close_dialog(&self) -> bool {
        let was = std::mem::replace(&mut self.lock().dialog, false);
        self.wake.notify_all();
        was
    }

    /// Waits until the question is answered (Ok) or turn `seq` is interrupted.
    pub fn await_dialog(&self, seq: u64) -> Result<(), Interrupted> {
        let mut s = self.lock();
        loop {
            if seq <= s.interrupted_upto {
                return Err(Interrupted);
            }
            if !s.dialog {
                return Ok(());
            }
            s = self.wake.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Err when turn `seq` was interrupted.
    pub fn check(&self, seq: u64) -> Result<(), Interrupted> {
        if seq <= self.lock().interrupted_upto {
            Err(Interrupted)
        } else {
            Ok(())
        }
    }

    /// Waits `d` on behalf of turn `seq`, returning early if it is interrupted.
    pub fn pause(&self, seq: u64, d: Duration) -> Result<(), Interrupted> {
        let deadline = Instant::now() + d;
        let mut s = self.lock();
        loop {
            if seq <= s.interrupted_upto {
                return Err(Interrupted);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            s = self
                .wake
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn interrupt_hits_the_running_turn_then_the_next_queued_one() {
        let c = Control::default();
        assert_eq!(c.interrupt(), InterruptOutcome::Idle);
        assert_eq!(c.submit(), (1, 0));
        assert_eq!(c.interrupt(), InterruptOutcome::Queued(1));
        c.start(1);
        assert_eq!(c.check(1), Err(Interrupted));
        c.finish();
        assert_eq!(c.submit(), (2, 0));
        c.start(2);
        assert_eq!(c.submit(), (3, 1));
        assert_eq!(c.check(2), Ok(()));
        assert_eq!(c.interrupt(), InterruptOutcome::Running(2));
        assert_eq!(c.check(2), Err(Interrupted));
        assert_eq!(c.check(3), Ok(()));
    }

    #[test]
    fn pause_wakes_up_on_interrupt() {
        let c = Arc::new(Control::default());
        c.submit();
        c.start(1);
        let waiter = {
            let c = c.clone();
            std::thread::spawn(move || c.pause(1, Duration::from_secs(600)))
        };
        // Whether the waiter is already waiting or not, it must return Err promptly.
        assert_eq!(c.interrupt(), InterruptOutcome::Running(1));
        assert_eq!(waiter.join().unwrap(), Err(Interrupted));
        assert_eq!(c.pause(2, Duration::from_millis(1)), Ok(()));
    }
}

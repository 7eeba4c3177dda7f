//! `TurnClock`: a turn's time limit that stops running while the turn waits for the person (a
//! permission request): the time spent waiting is added to the deadline when the wait ends.

use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug)]
struct State {
    deadline: Instant,
    /// Since when the clock stands still, and how many waits hold it (nested or concurrent).
    paused: Option<(Instant, usize)>,
}

/// A deadline that can be paused.
#[derive(Debug)]
pub struct TurnClock {
    state: Mutex<State>,
    changed: Notify,
}

impl TurnClock {
    /// A clock that runs out `limit` from now.
    pub fn new(limit: Duration) -> TurnClock {
        TurnClock {
            state: Mutex::new(State {
                deadline: Instant::now() + limit,
                paused: None,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the clock until the matching [`TurnClock::resume`].
    pub fn pause(&self) {
        let mut s = self.lock();
        s.paused = Some(match s.paused {
            Some((since, n)) => (since, n + 1),
            None => (Instant::now(), 1),
        });
        drop(s);
        self.changed.notify_waiters();
    }

    /// Restarts the clock; the time it stood still moves the deadline.
    pub fn resume(&self) {
        let mut s = self.lock();
        match s.paused {
            Some((since, 1)) => {
                s.deadline += since.elapsed();
                s.paused = None;
            }
            Some((since, n)) => s.paused = Some((since, n - 1)),
            None => {}
        }
        drop(s);
        self.changed.notify_waiters();
    }

    /// Runs `f` with the clock stopped.
    pub async fn paused<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.pause();
        let out = f.await;
        self.resume();
        out
    }

    /// Completes once the deadline passes while the clock runs. Cancel-safe.
    pub async fn expired(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let (deadline, paused) = {
                let s = self.lock();
                (s.deadline, s.paused.is_some())
            };
            if paused {
                changed.await;
                continue;
            }
            if Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// Time left while running (what a host agent is given as the turn's limit).
    pub fn left(&self) -> Duration {
        self.lock()
            .deadline
            .saturating_duration_since(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_paused_clock_does_not_run_out_and_moves_its_deadline() {
        let clock = TurnClock::new(Duration::from_secs(10));
        tokio::time::advance(Duration::from_secs(4)).await;
        clock.pause();
        let waited = tokio::time::timeout(Duration::from_secs(60), clock.expired()).await;
        assert!(waited.is_err(), "a paused clock ran out");
        clock.resume();
        assert_eq!(clock.left(), Duration::from_secs(6));
        let start = Instant::now();
        clock.expired().await;
        assert_eq!(start.elapsed(), Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn nested_pauses_hold_the_clock_until_the_last_resume() {
        let clock = TurnClock::new(Duration::from_secs(1));
        clock.pause();
        clock.pause();
        tokio::time::advance(Duration::from_secs(5)).await;
        clock.resume();
        assert!(
            tokio::time::timeout(Duration::from_secs(3), clock.expired())
                .await
                .is_err()
        );
        clock.resume();
        clock.expired().await;
    }
}

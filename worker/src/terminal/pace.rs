//! How fast a terminal view may go: at most [`MAX_FPS`] looks at the pane a second, a frame
//! only when the pane changed, and no more than [`BYTES_PER_SEC`] of frames a second on
//! average (a large frame pushes the next look back by its size over the rate). A pane that
//! does not change costs one look every [`MIN_INTERVAL`] and one database write every [`BEAT`].

use std::time::Duration;

/// Looks at the pane per second, at most.
pub const MAX_FPS: u32 = 4;
/// The shortest time between two looks.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1000 / MAX_FPS as u64);
/// Frame bytes per second per view, on average.
pub const BYTES_PER_SEC: u64 = 64 * 1024;
/// With nothing new to show, how often the worker says it is still there (the API hands a
/// view whose worker has been silent for three times this to another worker).
pub const BEAT: Duration = Duration::from_secs(2);
/// How often a pane that cannot be seen (no session yet, host unreachable) is looked at again.
pub const RETRY: Duration = Duration::from_secs(1);

/// The wait before the next look, after a frame of `bytes` was sent (0: nothing was sent).
pub fn after_frame(bytes: usize) -> Duration {
    let budget = Duration::from_secs_f64(bytes as f64 / BYTES_PER_SEC as f64);
    budget.max(MIN_INTERVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_paced_by_count_and_by_bytes() {
        assert_eq!(after_frame(0), MIN_INTERVAL);
        assert_eq!(after_frame(1000), MIN_INTERVAL);
        assert_eq!(after_frame(128 * 1024), Duration::from_secs(2));
        // Whatever the frames, a second carries at most MAX_FPS of them and about
        // BYTES_PER_SEC of bytes.
        for bytes in [10usize, 20_000, 70_000, 192 * 1024] {
            let per_sec = 1.0 / after_frame(bytes).as_secs_f64();
            assert!(per_sec <= MAX_FPS as f64 + 1e-9);
            assert!(per_sec * bytes as f64 <= BYTES_PER_SEC as f64 * 1.0001);
        }
    }
}

//! Benchmarks: the `paliadin-bench` smoke run (in CI), and the ignored admin-stats and
//! queue-heads benchmarks (`cargo test --release -p paliadin-e2e --test bench -- --ignored
//! --nocapture`), which print figures and assert nothing about time.

mod admin;
mod queue;
mod smoke;

//! Test harness shared by the end-to-end suites: a fresh PostgreSQL database per test (cloned
//! from a migrated template), the API and workers started in-process on loopback, HTTP and SSE
//! helpers, and an in-process driver for pinning queue semantics.
//!
//! The admin connection comes from `PALIADIN_TEST_ADMIN_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); `deploy/test.sh` sets it.

pub mod accounts;
pub mod axe;
pub mod bench;
pub mod browser;
pub mod claude;
pub mod claude_sys;
pub mod config_doc;
pub mod db;
pub mod demo_site;
pub mod fault;
pub mod fleet;
pub mod http;
pub mod keys;
pub mod log_lines;
pub mod model;
pub mod netns;
pub mod nspawn;
pub mod old_release;
pub mod ordering;
pub mod packages;
pub mod partition;
pub mod procs;
pub mod push;
pub mod rollout;
pub mod scripted;
pub mod sshd;
pub mod system;
pub mod tcp_forward;
pub mod units;
pub mod web;

/// Waits until `cond` holds, checking every 20 ms, failing after `secs` seconds. For conditions
/// that have no event to wait on (e.g. rows written by another process).
pub async fn wait_until<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

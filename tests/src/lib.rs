//! Test harness shared by the end-to-end suites: a fresh PostgreSQL database per test (cloned
//! from a migrated template), the API and workers started in-process on loopback, HTTP and SSE
//! helpers, and an in-process driver for pinning queue semantics.
//!
//! The admin connection comes from `PALIADIN_TEST_ADMIN_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); `deploy/test.sh` sets it.
//!
//! The suites are ten binaries by behaviour under `tests/tests/<binary>/` (`pipeline`,
//! `agent_claude`, `agent_codex`, `agent_demo`, `fault`, `ssh`, `security`, `web`, `ops`, `admin`,
//! `bench`), each a `main.rs` naming its modules; run one with
//! `./deploy/test.sh --test <binary> [<module>::<test>]`.
//!
//! # Which rig to use
//!
//! | to test … | use | what it starts |
//! |---|---|---|
//! | queue order, leases, fencing, SSE, without tmux | [`system`] + [`scripted`] | the API and workers in-process; [`scripted::ScriptedDriver`] does what the message says |
//! | the HTTP API as a client sees it | [`system`] + [`http`] | the API in-process; users with tokens; an SSE reader |
//! | real tmux and real worker processes (kill, restart) | [`procs`] | [`procs::TmuxRig`]: `paliadin-worker` processes driving the demo agent in a private tmux server |
//! | many workers killed and replaced, ground-truth audit | [`fleet`] + [`fault`] | the API as a process, a fleet of workers; [`fault::audit`] counts receipts against events |
//! | a worker cut off from PostgreSQL | [`partition`] ([`netns`], [`tcp_forward`]) | a worker in its own network namespace |
//! | the real Claude Code | [`claude_sys`] ([`claude`], [`model`]) | the API, workers and Claude against the scripted Anthropic model |
//! | the real Codex CLI | [`codex_sys`] ([`codex`], [`model_openai`]) | the API, workers and Codex against the scripted OpenAI (Responses API) model |
//! | one case over every agent (the agent-adapter contract) | [`agent_sys`] | the same system around Claude Code, Codex or the demo agent, with what differs per agent (the words that make it hang, fail or ask; what its model was sent) |
//! | a remote host over SSH | [`sshd`] | a real sshd on loopback whose key forces the host agent |
//! | per-owner OS accounts (root) | [`accounts`] | throw-away Unix accounts made by `deploy/add-owner-account.sh` |
//! | the pages in a browser | [`demo_site`] + [`browser`] ([`axe`], [`keys`], [`push`]) | the whole site with the demo agent; headless Chromium |
//! | raw HTTP: headers, cookies, status | [`web`] | requests with bearer or cookie identity and `Origin` |
//! | the terminal view | [`terminal`] | the API, an owner and a worker on a private tmux server |
//! | the Debian packages and systemd units | [`packages`], [`units`], [`nspawn`], [`rollout`], [`old_release`] | `cargo deb`, `systemd-analyze`, a booted Debian container, an older release |
//! | per-user order against two ground truths | [`ordering`] | checks on the `turns` table and the demo agent's files |
//! | a whole-system load | [`bench`] | `paliadin-bench`: API, workers, demo agents, simulated users |
//!
//! Every rig gets its own database from [`db`] (a clone of a migrated template), and waits on
//! events ([`log_lines`] for a process's log, [`wait_until`] for rows another process writes).

pub mod accounts;
pub mod agent_sys;
pub mod axe;
pub mod bench;
pub mod browser;
pub mod claude;
pub mod claude_sys;
pub mod codex;
pub mod codex_sys;
pub mod config_doc;
pub mod db;
pub mod demo_site;
pub mod fault;
pub mod fleet;
pub mod heads;
pub mod http;
pub mod keys;
pub mod log_lines;
pub mod model;
pub mod model_openai;
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
pub mod terminal;
pub mod units;
pub mod uploads;
pub mod web;
pub mod worklog;

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

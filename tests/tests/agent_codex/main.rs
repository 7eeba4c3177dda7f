//! The real Codex CLI (pinned, `deploy/ensure-codex.sh`) against the scripted OpenAI model on
//! loopback (`paliadin_e2e::model_openai`), installed by `deploy/agents/codex/install.sh`:
//! tool use, a worker killed mid-turn, permissions and the work log, usage. What every agent
//! must do (first start, hostile text, permissions, failures, cancel and timeout, resuming) is
//! the contract suite, `agent_demo/contract.rs`, which runs Codex too.
//! `PALIADIN_CODEX_SKIP` makes them skip loudly where Codex cannot be installed.

mod accounts;
mod compaction;
mod control;
mod login;
mod permission;
mod turns;
mod usage;
mod worklog;

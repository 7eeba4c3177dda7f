//! The real Codex CLI (pinned, `deploy/ensure-codex.sh`) against the scripted OpenAI model on
//! loopback (`paliadin_e2e::model_openai`), installed by `deploy/agents/codex/install.sh`:
//! turns, permissions, model failures, cancel and timeout, durable conversations, usage.
//! `PALIADIN_CODEX_SKIP` makes them skip loudly where Codex cannot be installed.

mod control;
mod conversations;
mod failures;
mod permission;
mod turns;
mod usage;
mod worklog;

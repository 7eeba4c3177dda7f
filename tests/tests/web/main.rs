//! The web pages in headless Chromium and over HTTP: login, the chat, permissions (also asked
//! by the real Codex CLI), usage, notifications and Web Push, sanitising, authorisation and
//! accessibility (axe-core), the work log and turn links.

mod a11y;
mod a11y_keys;
mod agent_kind;
mod authz;
mod browser;
mod codex;
mod compaction;
mod conversation_states;
mod failures;
mod login;
mod notify;
mod pages;
mod permission;
mod push;
mod sanitise;
mod terminal;
mod uploads;
mod usage;
mod worklog;

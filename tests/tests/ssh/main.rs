//! Hosts over SSH (a real sshd on loopback): remote turns, the host agent (host agent) and the
//! failures of the transport; Claude Code and Codex CLI as the agent on the host.

mod claude_statuses;
mod codex;
mod conversation_states;
mod failures;
mod host_agent;
mod remote;
mod terminal;
mod transcripts;
mod uploads;
mod usage;
mod worklog;

//! The demo agent in Paliadin's own tmux server: durable conversations, an owner's agents side by
//! side within their limit, the private tmux server beside a person's own, the system tmux, and
//! tmux session names; and the
//! agent-adapter contract suite, run over the demo agent, Claude Code and Codex (`contract`).

mod contract;
mod conversation_states;
mod conversations;
mod live_agents;
mod own_tmux_server;
mod owner_agents;
mod session_names;
mod system_tmux;
mod transcripts;
mod uploads;

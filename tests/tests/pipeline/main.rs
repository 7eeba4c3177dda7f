//! The turn pipeline without a real agent model: enqueue and admission, the queue and its
//! heads, leases, SSE streaming, the per-user cap, conversations and permissions as the person
//! sees them through the HTTP API, and the daily token budget.

mod agent_kind;
mod cap;
mod conversation_heads;
mod conversations;
mod enqueue;
mod heads;
mod lease;
mod live_agents_rows;
mod permission;
mod queue;
mod sse;
mod uploads;
mod usage_budget;

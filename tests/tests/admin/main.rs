//! The admin's views: stats, turns, fleet and its live agents, metrics, the dashboard and the
//! OpenAPI document.

mod dashboard;
mod fleet;
mod live_agents;
mod metrics;
mod openapi;
mod stats;
mod turns;
mod usage_stats;

//! The admin's views: stats, turns, fleet, metrics, the dashboard and the OpenAPI document.

mod dashboard;
mod fleet;
mod metrics;
mod openapi;
mod stats;
mod turns;
mod usage_stats;

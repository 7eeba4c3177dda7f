//! Faults: agents, the API, workers and PostgreSQL killed mid-turn, stalls, network
//! partitions, rolling restarts and load. Each counts what was lost or delivered twice.

mod agent;
mod api_kill;
mod attempts;
mod defects;
mod load;
mod network;
mod pg_kill;
mod rolling;
mod stall;
mod worker_kill;

//! HTTP routes, one module per concern.

pub mod conversations;
pub mod enqueue;
pub mod health;
pub mod json;
pub mod permission;
pub mod push;
pub mod stream;
pub mod stream_slots;
pub mod terminal;
pub mod turns;
pub mod uploads;

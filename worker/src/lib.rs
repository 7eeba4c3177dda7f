//! Paliadin worker library.
//!
//! # Layout
//! - [`config`]: runtime settings (claim loop, leases, timeouts).
//! - [`driver`]: the `Driver` trait and its implementations.
//! - [`runtime`]: the claim loop, leases, event sink and terminal writes.

pub mod config;
pub mod demo;
pub mod driver;
pub mod runtime;

//! Paliadin worker library.
//!
//! # Layout
//! - [`driver`]: the `Driver` trait and its implementations.

pub mod driver;

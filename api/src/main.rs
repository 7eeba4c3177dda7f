//! `paliadin-api` binary.
fn main() {}

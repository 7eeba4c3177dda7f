//! `paliadin-worker`: claims turns and drives agents.
fn main() {}

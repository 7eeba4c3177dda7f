//! `paliadin-bench`: the whole-system benchmark (docs/performance.md, "Whole system").

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    paliadin_e2e::bench::run(paliadin_e2e::bench::Args::parse()).await
}

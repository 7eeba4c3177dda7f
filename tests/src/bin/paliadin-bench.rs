//! `paliadin-bench`: the whole-system benchmark (docs/performance.md, "Whole system"), and
//! `paliadin-bench fleet`: the fleet-scale run (docs/performance.md, "Fleet").

use clap::Parser;
use paliadin_e2e::bench;

#[derive(Parser)]
#[command(
    name = "paliadin-bench",
    about = "Whole-system benchmark of Paliadin",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[command(flatten)]
    whole: bench::Args,
}

#[derive(clap::Subcommand)]
enum Mode {
    /// A fleet simulated on this machine: owners over tmux hosts (each an sshd on loopback with
    /// its host agent and the demo agent) and workers, under a realistic mix.
    Fleet(bench::fleet::FleetArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.mode {
        Some(Mode::Fleet(args)) => bench::fleet::run(args).await,
        None => bench::run(cli.whole).await,
    }
}

//! The `paliadin-shim` command line. In the library so `docs/configuration.md` is generated
//! from these very definitions.

use super::HostAgentConfig;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "paliadin-shim",
    version,
    about = "Paliadin host agent: drives agents in this host's tmux for remote workers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve one worker connection: JSON lines on stdin/stdout until EOF.
    Serve(HostAgentConfig),
}

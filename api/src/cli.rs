//! The `paliadin-api` command line: subcommands and their settings (flags + environment). In
//! the library so `docs/configuration.md` is generated from these very definitions.

use crate::config::ApiConfig;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "paliadin-api",
    version,
    about = "Paliadin HTTP API and administration"
)]
pub struct Cli {
    /// PostgreSQL connection string.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Serve the API (refuses to start on an unmigrated database).
    Serve(ApiConfig),
    /// Install pgmq and run the migrations (idempotent, safe to run concurrently).
    Migrate,
    /// Check the database this API would use, one line per check (ok, warn or fail with the
    /// fix); exits 1 when a check failed.
    Doctor,
    /// Manage users and their tokens.
    #[command(subcommand)]
    User(UserCmd),
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create a user; prints the new token as the last line of stdout.
    Add {
        /// The user's email (their login name).
        #[arg(long)]
        email: String,
        /// `owner` chats with the agent; `admin` sees the stats and the dashboard.
        #[arg(long, value_parser = ["owner", "admin"])]
        role: String,
    },
    /// Issue an additional token; prints it as the last line of stdout.
    Token {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
    /// List users.
    List,
    /// List a user's tokens: fingerprint, created, state (`active` or `revoked <when>`).
    Tokens {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
    /// Revoke one token by its fingerprint (from `user tokens`, or printed by `add`/`token`).
    RevokeToken {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// The token's fingerprint.
        #[arg(long)]
        fingerprint: String,
    },
    /// Disable a user (their sessions end; every token is revoked for good).
    Disable {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
    /// Re-enable a user. Their old tokens stay revoked: issue a new one with `user token`.
    Enable {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
}

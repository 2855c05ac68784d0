//! The `castellan` command line: `serve`, `check-config`, the `admin`
//! client of the admin API, and `blueprint` (check or apply a file).

pub mod admin;
pub mod blueprint;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Castellan, a self-hosted identity provider.
#[derive(Debug, Parser)]
#[command(name = "castellan", version, about)]
pub struct Cli {
    /// TOML configuration file; `CASTELLAN_*` variables override it.
    #[arg(long, global = true, env = "CASTELLAN_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (SQLite in ./data and 127.0.0.1:9000 by default).
    Serve,
    /// Validate the configuration and print it with secrets hidden.
    CheckConfig,
    /// Manage a running server through its admin API.
    Admin(Box<admin::AdminArgs>),
    /// Check a blueprint file, or apply it to the configured database.
    #[command(subcommand)]
    Blueprint(blueprint::BlueprintCommand),
}

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

/// Writes a line to standard output. A reader that went away (`| head`) is
/// not an error: the command stops quietly instead of panicking as
/// `println!` does.
pub fn say(text: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(error) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {error}");
        std::process::exit(1);
    }
}

/// `println!` for command output, through [`say`].
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::say(format_args!($($arg)*))
    };
}

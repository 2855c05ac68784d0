//! The `castellan` binary.

use std::process::ExitCode;

use clap::Parser as _;

use castellan::cli::{Cli, Command, admin, blueprint};
use castellan::config::Config;
use castellan::{server, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => {
            let config = Config::load(cli.config.as_deref())?;
            telemetry::init_logging(config.log_format, &config.log_level);
            server::serve(config).await
        }
        Command::CheckConfig => {
            let config = Config::load(cli.config.as_deref())?;
            for name in Config::unknown_env_vars() {
                eprintln!("warning: unknown variable {name} ignored; misspelt?");
            }
            castellan::say!("# configuration is valid\n{}", config.redacted());
            Ok(())
        }
        Command::Admin(args) => admin::run(*args).await,
        Command::Blueprint(command) => blueprint::run(cli.config.as_deref(), command).await,
    }
}

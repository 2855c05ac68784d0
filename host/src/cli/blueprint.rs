//! `castellan blueprint ...`: check a blueprint file without a database,
//! apply one straight to the configured database (no server needed), or
//! print the format's JSON Schema.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use comfy_table::Table;

use super::admin::Output;
use crate::blueprint::{self, Blueprint, Report};
use crate::clock::Clock;
use crate::config::Config;
use crate::event::AuditContext;
use crate::store::{PoolSettings, Store};

/// Blueprint commands.
#[derive(Debug, Subcommand)]
pub enum BlueprintCommand {
    /// Apply a blueprint file to the configured database and print what
    /// changed. All of it is written, or nothing.
    Apply {
        /// The blueprint file (YAML or JSON).
        file: PathBuf,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Parse and check a blueprint file without touching a database.
    Check {
        /// The blueprint file (YAML or JSON).
        file: PathBuf,
    },
    /// Print the JSON Schema of the blueprint format.
    Schema,
}

/// Runs a blueprint command; `config` is the `--config` file.
///
/// # Errors
/// An invalid blueprint (the error names the file and the entry), an
/// invalid configuration or a database failure.
pub async fn run(config: Option<&Path>, command: BlueprintCommand) -> anyhow::Result<()> {
    match command {
        BlueprintCommand::Apply { file, output } => apply(config, &file, output).await,
        BlueprintCommand::Check { file } => check(&file),
        BlueprintCommand::Schema => {
            crate::say!(
                "{}",
                serde_json::to_string_pretty(&blueprint::json_schema())?
            );
            Ok(())
        }
    }
}

fn check(file: &Path) -> anyhow::Result<()> {
    let blueprint = blueprint::load(file)?;
    crate::say!(
        "{}: blueprint {:?} is valid ({} entries)",
        file.display(),
        blueprint.name,
        blueprint.entries.len()
    );
    let external = blueprint::external_references(&blueprint)?;
    if !external.is_empty() {
        crate::say!("these must exist when it is applied:");
        for (kind, key) in external {
            crate::say!("  {kind} {key:?}");
        }
    }
    Ok(())
}

async fn apply(config: Option<&Path>, file: &Path, output: Output) -> anyhow::Result<()> {
    // An invalid file is reported before the database is opened.
    let blueprint = blueprint::load(file)?;
    let config = Config::load(config)?;
    let store = open_store(&config).await?;
    let report = apply_to(&store, &blueprint).await;
    store.close().await;
    let report = report?;
    match output {
        Output::Json => crate::say!("{}", serde_json::to_string_pretty(&report)?),
        Output::Table => print_report(&report),
    }
    Ok(())
}

async fn apply_to(store: &Store, blueprint: &Blueprint) -> anyhow::Result<Report> {
    let context = AuditContext::system();
    Ok(blueprint::apply(store, &Clock::System, &context, blueprint).await?)
}

/// Opens the configured database as `castellan serve` does.
async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data folder {}", config.data_dir.display()))?;
    }
    let settings = PoolSettings {
        max_connections: config.database.max_connections,
        acquire_timeout: Duration::from_secs(config.database.acquire_timeout_secs),
        sqlite_busy_timeout: Duration::from_millis(config.database.sqlite_busy_timeout_ms),
    };
    Ok(Store::open(&config.database_url(), &settings).await?)
}

fn print_report(report: &Report) {
    crate::say!("applied {:?}: {}", report.blueprint, report.totals());
    let mut table = Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_header(vec!["ENTRY", "ID", "KIND", "CHANGE"]);
    for entry in &report.entries {
        table.add_row(vec![
            entry.entry.to_string(),
            entry.id.clone(),
            entry.kind.to_string(),
            entry.change.as_str().to_owned(),
        ]);
    }
    crate::say!("{table}");
}

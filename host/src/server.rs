//! `castellan serve`: open the store, bootstrap, serve until SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::bootstrap::{self, Bootstrap};
use crate::clock::Clock;
use crate::config::Config;
use crate::http::{self, AppState, Limits};
use crate::identity::Directory;
use crate::store::{PoolSettings, Store};
use crate::telemetry;

/// Runs the server until SIGTERM or Ctrl-C, then lets in-flight requests
/// finish (up to the configured grace period) and closes the pool.
///
/// # Errors
/// The data folder, the database, the bootstrap or the listener failed.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let metrics = telemetry::init_metrics();
    for name in Config::unknown_env_vars() {
        tracing::warn!(variable = %name, "unknown CASTELLAN_ variable ignored; misspelt?");
    }
    // Bound first: a second server on a taken port stops here, before it
    // touches the database or prints a setup link.
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", config.listen))?;
    if config.database_url.is_none() {
        create_data_dir(&config.data_dir)?;
    }
    let settings = PoolSettings {
        max_connections: config.database.max_connections,
        acquire_timeout: Duration::from_secs(config.database.acquire_timeout_secs),
        sqlite_busy_timeout: Duration::from_millis(config.database.sqlite_busy_timeout_ms),
    };
    let store = Store::open(&config.database_url(), &settings).await?;
    tracing::info!(backend = ?store.backend(), "database ready");
    let directory = Directory::new(store.clone(), Clock::System);
    apply_blueprints(&store, &config).await?;

    match bootstrap::run(&directory, &config).await? {
        Bootstrap::AdminExists => {}
        Bootstrap::FromEnvironment => tracing::info!("first admin created from the environment"),
        Bootstrap::SetupLink(url) => announce_setup_link(url.expose_secret()),
    }

    let pages = http::Pages::new()?;
    let mailer = crate::mail::Mailer::new(config.email.smtp_url.as_ref(), &config.email.from)?;
    let public_url: Arc<str> = Arc::from(config.public_url());
    let flows = crate::flow::executor::Flows::new(directory.clone(), mailer, public_url.clone());
    let state = AppState {
        directory,
        metrics,
        public_url,
        pages,
        flows,
    };
    let limits = Limits {
        max_body_bytes: config.http.max_body_bytes,
        request_timeout: Duration::from_secs(config.http.request_timeout_secs),
    };
    let app = http::router(state, limits, config.http.trusted_proxies.clone());
    let address = listener.local_addr()?;
    tracing::info!(%address, public_url = %config.public_url(), "listening");

    let grace = Duration::from_secs(config.http.shutdown_grace_secs);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal());
    // After the signal, in-flight requests get the grace period to finish.
    let outcome = tokio::select! {
        outcome = served => outcome.map_err(anyhow::Error::from),
        () = after_signal(grace) => Err(anyhow::anyhow!("requests still running after {grace:?}; stopping")),
    };
    store.close().await;
    tracing::info!("stopped");
    outcome
}

/// Creates the data folder readable by its owner only: the database in it
/// holds password hashes.
fn create_data_dir(path: &std::path::Path) -> anyhow::Result<()> {
    let created = !path.exists();
    std::fs::create_dir_all(path).map_err(|error| {
        anyhow::anyhow!("cannot create data folder {}: {error}", path.display())
    })?;
    #[cfg(unix)]
    if created {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(
            |error| anyhow::anyhow!("cannot restrict data folder {}: {error}", path.display()),
        )?;
    }
    Ok(())
}

/// Applies the default blueprints (recreating what is missing, never
/// overwriting edits), then the configured folder's, in name order.
async fn apply_blueprints(store: &Store, config: &Config) -> anyhow::Result<()> {
    let clock = Clock::System;
    let defaults = crate::blueprint::apply_defaults(store, &clock).await?;
    if defaults.iter().any(crate::blueprint::Report::changed) {
        tracing::info!("default blueprints applied");
    }
    if let Some(folder) = &config.blueprints_dir {
        let reports = crate::blueprint::apply_folder(store, &clock, folder).await?;
        tracing::info!(files = reports.len(), folder = %folder.display(), "blueprints applied");
    }
    Ok(())
}

/// The setup link is a credential: it goes to standard output for the
/// operator, never into the structured logs.
fn announce_setup_link(url: &str) {
    tracing::warn!("no admin exists yet; open the setup link printed on standard output");
    println!("\nNo admin exists yet. Create the first admin within 24 hours at:\n\n    {url}\n");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

async fn after_signal(grace: Duration) {
    shutdown_signal().await;
    tracing::info!("shutting down; finishing requests in flight");
    tokio::time::sleep(grace).await;
}

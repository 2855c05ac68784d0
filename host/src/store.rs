//! The SQL store: one connection pool over SQLite or PostgreSQL, migrations
//! for both, and the queries the domain modules need.
//!
//! Queries are written once in the SQL both engines accept, through sqlx's
//! `Any` driver. Ids are UUID text, times are Unix milliseconds and flags are
//! 0/1 integers, so that rows read the same on either engine.

pub mod brands;
pub mod consents;
pub mod definitions;
pub mod events;
pub mod executions;
pub mod flows;
pub mod groups;
pub mod reputation;
pub mod sessions;
pub mod setup;
pub mod tokens;
pub mod users;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

use crate::config::redact_url;

/// The database engine behind a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (single node).
    Sqlite,
    /// PostgreSQL (production, several replicas).
    Postgres,
}

/// Which unique value a write collided with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    /// A user with this username exists.
    Username,
    /// A user with this email exists.
    Email,
    /// A group with this name exists.
    GroupName,
    /// The row exists already (same key).
    Row,
}

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or has no free connection.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A unique value is taken.
    #[error("{0:?} is already taken")]
    Conflict(Taken),
    /// A referenced row does not exist.
    #[error("a referenced row does not exist")]
    MissingReference,
    /// A change would nest a group inside itself.
    #[error("the change would make a cycle")]
    Cycle,
    /// The database refused a value (PostgreSQL refuses NUL characters in
    /// text).
    #[error("a value cannot be stored")]
    InvalidValue,
    /// A stored value cannot be read back (a bug or a hand-edited row).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The URL names an engine Castellan does not support.
    #[error("unsupported database URL {0}; use sqlite: or postgres://")]
    UnsupportedUrl(String),
    /// Migrations failed to apply.
    #[error("database migration failed: {0}")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// Any other database failure.
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(taken_from_message(db.message()))
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::MissingReference
            }
            sqlx::Error::Database(db) if is_connection_loss(db.code().as_deref()) => {
                StoreError::Unavailable(error)
            }
            // 22021: character not in repertoire (NUL); 22P05: untranslatable
            // character.
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("22021" | "22P05")) =>
            {
                StoreError::InvalidValue
            }
            _ => StoreError::Other(error),
        }
    }
}

/// PostgreSQL SQLSTATE classes 08 (connection exception) and 57P (operator
/// intervention, such as a shutdown) mean the server went away.
fn is_connection_loss(code: Option<&str>) -> bool {
    code.is_some_and(|code| code.starts_with("08") || code.starts_with("57P"))
}

/// Both engines name the column (SQLite) or the constraint named after it
/// (PostgreSQL) in the message of a unique violation.
fn taken_from_message(message: &str) -> Taken {
    if message.contains("username_key") {
        Taken::Username
    } else if message.contains("email_key") {
        Taken::Email
    } else if message.contains("name_key") {
        Taken::GroupName
    } else {
        Taken::Row
    }
}

/// Pool settings a store is opened with.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// Largest number of open connections.
    pub max_connections: u32,
    /// How long a request waits for a connection.
    pub acquire_timeout: Duration,
    /// How long SQLite waits on a lock.
    pub sqlite_busy_timeout: Duration,
}

/// A handle on the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// A database transaction; dropped without `commit`, it rolls back.
pub struct Tx(sqlx::Transaction<'static, sqlx::Any>);

impl Tx {
    /// The connection the transaction runs on, for the query modules.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.0
    }

    /// Makes every write of the transaction durable at once.
    ///
    /// # Errors
    /// The database refused or lost the commit; nothing was written.
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.0.commit().await?)
    }
}

impl Store {
    /// Opens a pool on `url`, creating a SQLite file if needed, and applies
    /// pending migrations.
    ///
    /// # Errors
    /// An unsupported URL, an unreachable database or a failed migration.
    pub async fn open(url: &SecretString, settings: &PoolSettings) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let url = url.expose_secret();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
        let options: AnyConnectOptions = url.parse()?;
        let busy_ms = settings.sqlite_busy_timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; the busy
                        // timeout makes a writer wait instead of failing.
                        let pragmas = format!(
                            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = {busy_ms}; \
                             PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
                        );
                        conn.execute(pragmas.as_str()).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(StoreError::Migration)
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction.
    ///
    /// # Errors
    /// No connection could be had.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx(self.pool.begin().await?))
    }

    /// A pooled connection for reads.
    ///
    /// # Errors
    /// No connection could be had.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// Checks that the database answers a trivial query.
    ///
    /// # Errors
    /// The database is unreachable.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        conn.ping().await?;
        Ok(())
    }

    /// Open and idle connection counts, for metrics.
    pub fn pool_usage(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// Closes every connection, waiting for those in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Reads a 0/1 flag column.
pub(crate) fn flag(value: i64) -> bool {
    value != 0
}

/// Parses a UUID column.
pub(crate) fn uuid_column(text: &str) -> Result<uuid::Uuid, StoreError> {
    uuid::Uuid::parse_str(text).map_err(|_| StoreError::Corrupt(format!("bad uuid {text:?}")))
}

/// Parses a JSON object column.
pub(crate) fn json_column(
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(format!("bad json: {error}")))
}

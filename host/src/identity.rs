//! Users, groups, service accounts, credentials and password hashing.
//!
//! `Directory` is the one entry point for changes to identities: it
//! validates, hashes off the async executor, writes the change and its audit
//! event in one transaction, and records a failure event when a change is
//! refused.

pub mod group;
pub mod password;
pub mod user;

use crate::clock::Clock;
use crate::event::{AuditContext, Event, Outcome};
use crate::store::{self, Store, StoreError, Taken, Tx};

/// Why an identity operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// No such user or group.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A field has an unusable value.
    #[error("{field}: {message}")]
    Invalid {
        /// The request field at fault.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A unique value is taken.
    #[error("{}", taken_message(*.0))]
    Conflict(Taken),
    /// A supplied password hash is not usable.
    #[error("password_hash: {0}")]
    PasswordHash(#[source] password::PasswordError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or a crashed worker.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

fn taken_message(taken: Taken) -> &'static str {
    match taken {
        Taken::Username => "username: a user with this username exists",
        Taken::Email => "email: a user with this email exists",
        Taken::GroupName => "name: a group with this name exists",
        Taken::Row => "the entry exists already",
    }
}

impl IdentityError {
    pub(crate) fn invalid(field: &'static str, message: &str) -> Self {
        IdentityError::Invalid {
            field,
            message: message.to_owned(),
        }
    }

    /// A short stable code for audit details and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::NotFound(_) => "not_found",
            IdentityError::Invalid { .. } | IdentityError::PasswordHash(_) => "invalid_request",
            IdentityError::Conflict(_) => "conflict",
            IdentityError::Store(StoreError::Unavailable(_)) => "unavailable",
            IdentityError::Store(StoreError::InvalidValue) => "invalid_request",
            // What a refused change referred to does not exist.
            IdentityError::Store(StoreError::MissingReference) => "not_found",
            IdentityError::Store(_) | IdentityError::Internal(_) => "internal_error",
        }
    }
}

/// Identity operations over a store.
#[derive(Clone, Debug)]
pub struct Directory {
    store: Store,
    clock: Clock,
}

impl Directory {
    /// A directory over `store`, reading time from `clock`.
    pub fn new(store: Store, clock: Clock) -> Self {
        Directory { store, clock }
    }

    /// The store underneath, for modules that share transactions with it.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The clock in use.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Runs `change` and writes `event` in one transaction. When the change
    /// is refused, the transaction rolls back and a failure event with the
    /// same action and target is written on its own.
    pub(crate) async fn write<F>(
        &self,
        context: &AuditContext,
        event: Event,
        change: F,
    ) -> Result<(), IdentityError>
    where
        F: AsyncFnOnce(&mut Tx) -> Result<(), StoreError>,
    {
        let result = async {
            let mut tx = self.store.begin().await?;
            change(&mut tx).await?;
            store::events::insert(tx.conn(), &event).await?;
            tx.commit().await
        }
        .await;
        let Err(error) = result else {
            return Ok(());
        };
        let error = match error {
            StoreError::Conflict(taken) => IdentityError::Conflict(taken),
            other => IdentityError::Store(other),
        };
        self.record_failure(context, &event, &error).await;
        Err(error)
    }

    /// Writes a failure event for a refused change. Losing it must not hide
    /// the original error, so its own failure is only logged.
    pub(crate) async fn record_failure(
        &self,
        context: &AuditContext,
        attempted: &Event,
        error: &IdentityError,
    ) {
        if matches!(error, IdentityError::Store(StoreError::Unavailable(_))) {
            return;
        }
        let mut failure = Event::new(
            context,
            self.clock.now(),
            &attempted.action,
            Outcome::Failure,
        )
        .detail("error", error.code());
        failure.target_kind = attempted.target_kind.clone();
        failure.target_id = attempted.target_id.clone();
        let written = async {
            let mut tx = self.store.begin().await?;
            store::events::insert(tx.conn(), &failure).await?;
            tx.commit().await
        };
        if let Err(write_error) = written.await {
            tracing::error!(error = %write_error, action = %failure.action, "cannot record failure event");
        }
    }
}

/// Hashes a new password on the blocking pool, so the async executor keeps
/// serving other requests during the ~15 ms argon2id run.
pub(crate) async fn spawn_hash(password: String) -> Result<String, IdentityError> {
    tokio::task::spawn_blocking(move || password::hash_password(&password))
        .await
        .map_err(|_| IdentityError::Internal("hashing task failed"))?
        .map_err(IdentityError::PasswordHash)
}

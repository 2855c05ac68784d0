//! Flow execution and flow token rows.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use super::{StoreError, uuid_column};
use crate::clock::Millis;
use crate::flow::execution::{Execution, ExecutionState};

fn from_row(row: &AnyRow) -> Result<Execution, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(Execution {
        id: uuid_column(row.try_get("id")?)?,
        slug: row.try_get("flow_slug")?,
        state: serde_json::from_str(&state)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?,
        version: row.try_get("version")?,
    })
}

fn encode(state: &ExecutionState) -> Result<String, StoreError> {
    serde_json::to_string(state).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// Stores a new execution, first dropping this browser's earlier run of the
/// same flow and every expired execution.
///
/// # Errors
/// A database failure.
pub async fn insert(
    conn: &mut AnyConnection,
    execution: &Execution,
    browser_hash: &str,
    now: Millis,
    expires_at: Millis,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM flow_executions WHERE expires_at <= $1 OR (browser_hash = $2 AND flow_slug = $3)")
        .bind(now)
        .bind(browser_hash)
        .bind(&execution.slug)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO flow_executions (id, browser_hash, flow_slug, state, version, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(execution.id.to_string())
    .bind(browser_hash)
    .bind(&execution.slug)
    .bind(encode(&execution.state)?)
    .bind(execution.version)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// This browser's live execution of a flow.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn find(
    conn: &mut AnyConnection,
    browser_hash: &str,
    slug: &str,
    now: Millis,
) -> Result<Option<Execution>, StoreError> {
    let row = sqlx::query(
        "SELECT id, flow_slug, state, version FROM flow_executions \
         WHERE browser_hash = $1 AND flow_slug = $2 AND expires_at > $3",
    )
    .bind(browser_hash)
    .bind(slug)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    from_row(&row).map(Some)
}

/// Saves a step: writes the new state only if the execution is still at
/// `expected_version`. False means another request moved it first.
///
/// # Errors
/// A database failure.
pub async fn update(
    conn: &mut AnyConnection,
    execution: &Execution,
    expected_version: i64,
    expires_at: Millis,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE flow_executions SET state = $2, version = $3, expires_at = $4 \
         WHERE id = $1 AND version = $5",
    )
    .bind(execution.id.to_string())
    .bind(encode(&execution.state)?)
    .bind(execution.version)
    .bind(expires_at)
    .bind(expected_version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes an execution (finished, denied or restarted).
///
/// # Errors
/// A database failure.
pub async fn delete(conn: &mut AnyConnection, id: Uuid) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM flow_executions WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves an execution to another browser (a one-time link opened there).
///
/// # Errors
/// A database failure.
pub async fn rebind(
    conn: &mut AnyConnection,
    id: Uuid,
    slug: &str,
    browser_hash: &str,
    expires_at: Millis,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM flow_executions WHERE browser_hash = $1 AND flow_slug = $2 AND id <> $3",
    )
    .bind(browser_hash)
    .bind(slug)
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE flow_executions SET browser_hash = $2, expires_at = $3 WHERE id = $1")
        .bind(id.to_string())
        .bind(browser_hash)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores a one-time link to an execution.
///
/// # Errors
/// A database failure.
pub async fn insert_token(
    conn: &mut AnyConnection,
    execution: Uuid,
    hash: &str,
    now: Millis,
    expires_at: Millis,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO flow_tokens (id, secret_hash, execution_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(hash)
    .bind(execution.to_string())
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Uses a one-time link: deletes it and returns its execution's id and
/// state, or `None` when it is unknown, used or expired.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn consume_token(
    conn: &mut AnyConnection,
    hash: &str,
    now: Millis,
) -> Result<Option<Execution>, StoreError> {
    let row = sqlx::query(
        "SELECT e.id, e.flow_slug, e.state, e.version FROM flow_tokens t \
         JOIN flow_executions e ON e.id = t.execution_id \
         WHERE t.secret_hash = $1 AND t.expires_at > $2 AND e.expires_at > $2",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let deleted = sqlx::query("DELETE FROM flow_tokens WHERE secret_hash = $1")
        .bind(hash)
        .execute(&mut *conn)
        .await?;
    if deleted.rows_affected() != 1 {
        return Ok(None);
    }
    from_row(&row).map(Some)
}

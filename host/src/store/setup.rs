//! One-time setup links for the first admin.

use sqlx::{AnyConnection, Row};

use super::StoreError;
use crate::clock::Millis;

/// Replaces every setup link with a new one.
///
/// # Errors
/// A database failure.
pub async fn replace(
    conn: &mut AnyConnection,
    id: &str,
    hash: &str,
    now: Millis,
    expires_at: Millis,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM setup_links")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO setup_links (id, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(hash)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a live link with this secret hash exists.
///
/// # Errors
/// A database failure.
pub async fn is_live(
    conn: &mut AnyConnection,
    hash: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM setup_links WHERE secret_hash = $1 AND expires_at > $2",
    )
    .bind(hash)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// Deletes the link with this hash; false when it was already used or
/// never existed, so two racing uses cannot both succeed.
///
/// # Errors
/// A database failure.
pub async fn consume(
    conn: &mut AnyConnection,
    hash: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM setup_links WHERE secret_hash = $1 AND expires_at > $2")
        .bind(hash)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes every setup link (an admin now exists).
///
/// # Errors
/// A database failure.
pub async fn clear(conn: &mut AnyConnection) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM setup_links").execute(conn).await?;
    Ok(())
}

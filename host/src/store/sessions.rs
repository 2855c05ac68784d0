//! Browser session rows.

use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use super::{StoreError, uuid_column};
use crate::clock::Millis;
use crate::identity::user::UserId;
use crate::session::Session;

/// Inserts a session with the hash of its cookie secret.
///
/// # Errors
/// A database failure.
pub async fn insert(
    conn: &mut AnyConnection,
    session: &Session,
    hash: &str,
    client_ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (id, secret_hash, user_id, created_at, expires_at, last_seen_at, \
         client_ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(session.id.to_string())
    .bind(hash)
    .bind(session.user_id.to_string())
    .bind(session.created_at)
    .bind(session.expires_at)
    .bind(session.last_seen_at)
    .bind(client_ip)
    .bind(user_agent)
    .execute(conn)
    .await?;
    Ok(())
}

/// The session whose secret hashes to `hash`.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn find(conn: &mut AnyConnection, hash: &str) -> Result<Option<Session>, StoreError> {
    let row = sqlx::query(
        "SELECT id, user_id, created_at, expires_at, last_seen_at FROM sessions WHERE secret_hash = $1",
    )
    .bind(hash)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(Session {
        id: uuid_column(row.try_get("id")?)?,
        user_id: UserId(uuid_column(row.try_get("user_id")?)?),
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
    }))
}

/// Records a request.
///
/// # Errors
/// A database failure.
pub async fn touch(conn: &mut AnyConnection, id: Uuid, at: Millis) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes a session.
///
/// # Errors
/// A database failure.
pub async fn delete(conn: &mut AnyConnection, id: Uuid) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

//! API token rows.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{StoreError, uuid_column};
use crate::clock::Millis;
use crate::identity::user::UserId;
use crate::token::{ApiToken, TokenId, TokenScope};

const COLUMNS: &str = "id, user_id, name, scope, created_at, expires_at, revoked_at, last_used_at";

/// Inserts a token with the hash of its secret.
///
/// # Errors
/// `Conflict` when a token with the same secret exists.
pub async fn insert(
    conn: &mut AnyConnection,
    token: &ApiToken,
    hash: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, scope, secret_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(token.id.to_string())
    .bind(token.user_id.to_string())
    .bind(&token.name)
    .bind(token.scope.as_str())
    .bind(hash)
    .bind(token.created_at)
    .bind(token.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a token revoked; false when there is no such token.
///
/// # Errors
/// A database failure.
pub async fn revoke(conn: &mut AnyConnection, id: TokenId, at: Millis) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
            .bind(id.to_string())
            .bind(at)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() > 0)
}

/// Records a use.
///
/// # Errors
/// A database failure.
pub async fn touch(conn: &mut AnyConnection, id: TokenId, at: Millis) -> Result<(), StoreError> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// One token by id.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn get(conn: &mut AnyConnection, id: TokenId) -> Result<Option<ApiToken>, StoreError> {
    let query = format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1");
    let row = sqlx::query(&query)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The token whose secret hashes to `hash`.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn find_by_hash(
    conn: &mut AnyConnection,
    hash: &str,
) -> Result<Option<ApiToken>, StoreError> {
    let query = format!("SELECT {COLUMNS} FROM api_tokens WHERE secret_hash = $1");
    let row = sqlx::query(&query).bind(hash).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// All tokens, or one user's, newest first.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn list(
    conn: &mut AnyConnection,
    user: Option<UserId>,
) -> Result<Vec<ApiToken>, StoreError> {
    let query = format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE ($1 IS NULL OR user_id = $1) \
         ORDER BY created_at DESC, id"
    );
    let rows = sqlx::query(&query)
        .bind(user.map(|id| id.to_string()))
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

fn from_row(row: &AnyRow) -> Result<ApiToken, StoreError> {
    let scope: String = row.try_get("scope")?;
    Ok(ApiToken {
        id: TokenId(uuid_column(row.try_get("id")?)?),
        user_id: UserId(uuid_column(row.try_get("user_id")?)?),
        name: row.try_get("name")?,
        scope: TokenScope::parse(&scope)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown token scope {scope:?}")))?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

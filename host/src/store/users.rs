//! User rows.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{StoreError, flag, json_column, uuid_column};
use crate::clock::Millis;
use crate::identity::user::{User, UserFilter, UserId, UserType, lookup_key};

pub(super) const COLUMNS: &str = "id, username, email, email_verified, display_name, user_type, active, \
                       attributes, CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS has_password, created_at, \
                       updated_at, last_login_at";

fn attributes_text(user: &User) -> String {
    serde_json::Value::Object(user.attributes.clone()).to_string()
}

/// Inserts a new user with an optional stored password hash.
///
/// # Errors
/// `Conflict` for a taken username or email.
pub async fn insert(
    conn: &mut AnyConnection,
    user: &User,
    password_hash: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO users (id, username, username_key, email, email_key, email_verified, \
         display_name, user_type, active, attributes, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(user.id.to_string())
    .bind(&user.username)
    .bind(lookup_key(&user.username))
    .bind(&user.email)
    .bind(user.email.as_deref().map(lookup_key))
    .bind(i64::from(user.email_verified))
    .bind(&user.display_name)
    .bind(user.user_type.as_str())
    .bind(i64::from(user.active))
    .bind(attributes_text(user))
    .bind(password_hash)
    .bind(user.created_at)
    .bind(user.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes every field of `user` except its password.
///
/// # Errors
/// `Conflict` for a taken username or email.
pub async fn update(conn: &mut AnyConnection, user: &User) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE users SET username = $2, username_key = $3, email = $4, email_key = $5, \
         email_verified = $6, display_name = $7, user_type = $8, active = $9, attributes = $10, \
         updated_at = $11 WHERE id = $1",
    )
    .bind(user.id.to_string())
    .bind(&user.username)
    .bind(lookup_key(&user.username))
    .bind(&user.email)
    .bind(user.email.as_deref().map(lookup_key))
    .bind(i64::from(user.email_verified))
    .bind(&user.display_name)
    .bind(user.user_type.as_str())
    .bind(i64::from(user.active))
    .bind(attributes_text(user))
    .bind(user.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces a user's stored password hash.
///
/// # Errors
/// A database failure.
pub async fn set_password_hash(
    conn: &mut AnyConnection,
    id: UserId,
    hash: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a successful sign-in.
///
/// # Errors
/// A database failure.
pub async fn record_login(
    conn: &mut AnyConnection,
    id: UserId,
    at: Millis,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes a user; false when there was none.
///
/// # Errors
/// A database failure.
pub async fn delete(conn: &mut AnyConnection, id: UserId) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// One user by id.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn get(conn: &mut AnyConnection, id: UserId) -> Result<Option<User>, StoreError> {
    let query = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row = sqlx::query(&query)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// One user by username key, for exact look-ups.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn find_by_username(
    conn: &mut AnyConnection,
    username: &str,
) -> Result<Option<User>, StoreError> {
    let query = format!("SELECT {COLUMNS} FROM users WHERE username_key = $1");
    let row = sqlx::query(&query)
        .bind(lookup_key(username))
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// A user's stored password hash, if any.
///
/// # Errors
/// A database failure.
pub async fn password_hash(
    conn: &mut AnyConnection,
    id: UserId,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(row) => row.try_get("password_hash")?,
        None => None,
    })
}

/// A user by username or email key, with the stored password hash.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn find_with_hash(
    conn: &mut AnyConnection,
    key: &str,
) -> Result<Option<(User, Option<String>)>, StoreError> {
    let query = format!(
        "SELECT {COLUMNS}, password_hash FROM users WHERE username_key = $1 OR email_key = $1 \
         ORDER BY CASE WHEN username_key = $1 THEN 0 ELSE 1 END LIMIT 1"
    );
    let row = sqlx::query(&query).bind(key).fetch_optional(conn).await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some((from_row(&row)?, row.try_get("password_hash")?)))
}

/// A page of users ordered by username key.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn list(conn: &mut AnyConnection, filter: &UserFilter) -> Result<Vec<User>, StoreError> {
    let query = format!(
        "SELECT {COLUMNS} FROM users \
         WHERE ($1 IS NULL OR username_key LIKE $1 ESCAPE '\\') AND ($2 IS NULL OR email_key LIKE $2 ESCAPE '\\') \
           AND ($3 IS NULL OR username_key > $3) \
         ORDER BY username_key LIMIT $4"
    );
    let rows = sqlx::query(&query)
        .bind(filter.username.as_deref().map(like_pattern))
        .bind(filter.email.as_deref().map(like_pattern))
        .bind(filter.after.as_deref().map(lookup_key))
        .bind(i64::from(filter.limit))
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// A `LIKE` pattern matching `text` anywhere in a lookup key, its own `%`,
/// `_` and `\` taken literally (`ESCAPE '\'` works on both engines).
pub(super) fn like_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in lookup_key(text).chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub(super) fn from_row(row: &AnyRow) -> Result<User, StoreError> {
    let user_type: String = row.try_get("user_type")?;
    let has_password: i64 = row.try_get("has_password")?;
    Ok(User {
        id: UserId(uuid_column(row.try_get("id")?)?),
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        email_verified: flag(row.try_get("email_verified")?),
        display_name: row.try_get("display_name")?,
        user_type: UserType::parse(&user_type)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown user type {user_type:?}")))?,
        active: flag(row.try_get("active")?),
        attributes: json_column(row.try_get("attributes")?)?,
        has_password: flag(has_password),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_login_at: row.try_get("last_login_at")?,
    })
}

//! Consent rows.

use sqlx::{AnyConnection, Row};

use super::StoreError;
use crate::clock::Millis;
use crate::identity::user::UserId;

/// Whether a live consent exists.
///
/// # Errors
/// A database failure.
pub async fn is_given(
    conn: &mut AnyConnection,
    user: UserId,
    application: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM consents WHERE user_id = $1 AND application = $2 \
         AND (expires_at IS NULL OR expires_at > $3)",
    )
    .bind(user.to_string())
    .bind(application)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// Records (or renews) a consent.
///
/// # Errors
/// A database failure.
pub async fn give(
    conn: &mut AnyConnection,
    user: UserId,
    application: &str,
    now: Millis,
    expires_at: Option<Millis>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO consents (user_id, application, created_at, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, application) DO UPDATE SET created_at = $3, expires_at = $4",
    )
    .bind(user.to_string())
    .bind(application)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

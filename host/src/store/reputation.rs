//! Failed sign-in scores per user and per client address. A score decays:
//! it is forgotten a quarter of an hour after its last failure.

use sqlx::{AnyConnection, Row};

use super::StoreError;
use crate::clock::Millis;

/// How long a failure counts.
pub const WINDOW: Millis = 15 * 60 * 1000;

/// The live score of a key.
///
/// # Errors
/// A database failure.
pub async fn score(
    conn: &mut AnyConnection,
    kind: &str,
    key: &str,
    now: Millis,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "SELECT score FROM reputation WHERE key_kind = $1 AND key_value = $2 AND updated_at > $3",
    )
    .bind(kind)
    .bind(key)
    .bind(now - WINDOW)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some(row) => row.try_get("score")?,
        None => 0,
    })
}

/// Counts one attempt against a key before it is checked, atomically, and
/// returns the score including it: parallel attempts each see their own
/// count, so none slips under the limit. A stale score starts again at one.
///
/// # Errors
/// A database failure.
pub async fn record_attempt(
    conn: &mut AnyConnection,
    kind: &str,
    key: &str,
    now: Millis,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO reputation (key_kind, key_value, score, updated_at) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (key_kind, key_value) DO UPDATE SET \
           score = CASE WHEN reputation.updated_at > $4 THEN reputation.score + 1 ELSE 1 END, \
           updated_at = $3 \
         RETURNING score",
    )
    .bind(kind)
    .bind(key)
    .bind(now)
    .bind(now - WINDOW)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("score")?)
}

/// Takes back one attempt that turned out to succeed.
///
/// # Errors
/// A database failure.
pub async fn release_attempt(
    conn: &mut AnyConnection,
    kind: &str,
    key: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE reputation SET score = CASE WHEN score > 0 THEN score - 1 ELSE 0 END \
         WHERE key_kind = $1 AND key_value = $2",
    )
    .bind(kind)
    .bind(key)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets a key's failures (after a successful sign-in).
///
/// # Errors
/// A database failure.
pub async fn clear(conn: &mut AnyConnection, kind: &str, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM reputation WHERE key_kind = $1 AND key_value = $2")
        .bind(kind)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

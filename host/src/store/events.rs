//! Audit event rows.

use sqlx::{AnyConnection, Row};

use super::{StoreError, json_column, uuid_column};
use crate::event::{Event, EventFilter};

/// Appends one event.
///
/// # Errors
/// The database refused the write.
pub async fn insert(conn: &mut AnyConnection, event: &Event) -> Result<(), StoreError> {
    let detail = serde_json::Value::Object(event.detail.clone()).to_string();
    sqlx::query(
        "INSERT INTO events (id, created_at, actor, action, target_kind, target_id, outcome, \
         client_ip, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(event.id.to_string())
    .bind(event.created_at)
    .bind(&event.actor)
    .bind(&event.action)
    .bind(&event.target_kind)
    .bind(&event.target_id)
    .bind(&event.outcome)
    .bind(&event.client_ip)
    .bind(detail)
    .execute(conn)
    .await?;
    event.log();
    Ok(())
}

/// Lists events newest first. Ids are UUIDv7, so their text order is their
/// time order and serves as the page cursor.
///
/// # Errors
/// The database failed or a row is corrupt.
pub async fn list(
    conn: &mut AnyConnection,
    filter: &EventFilter,
) -> Result<Vec<Event>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, created_at, actor, action, target_kind, target_id, outcome, client_ip, detail \
         FROM events \
         WHERE ($1 IS NULL OR action = $1) AND ($2 IS NULL OR target_id = $2) \
           AND ($3 IS NULL OR actor = $3) AND ($4 IS NULL OR id < $4) \
         ORDER BY id DESC LIMIT $5",
    )
    .bind(&filter.action)
    .bind(&filter.target_id)
    .bind(&filter.actor)
    .bind(filter.before.map(|id| id.to_string()))
    .bind(i64::from(filter.limit))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Event {
                id: uuid_column(row.try_get("id")?)?,
                created_at: row.try_get("created_at")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                target_kind: row.try_get("target_kind")?,
                target_id: row.try_get("target_id")?,
                outcome: row.try_get("outcome")?,
                client_ip: row.try_get("client_ip")?,
                detail: json_column(row.try_get("detail")?)?,
            })
        })
        .collect()
}

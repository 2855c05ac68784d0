//! Group and membership rows, with the recursive queries for nesting.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{StoreError, json_column, uuid_column};
use crate::clock::Millis;
use crate::identity::group::{Group, GroupFilter, GroupId};
use crate::identity::user::{User, UserId, lookup_key};

const COLUMNS: &str = "id, name, parent_id, attributes, created_at, updated_at";

/// Inserts a new group.
///
/// # Errors
/// `Conflict` for a taken name, `MissingReference` for an unknown parent.
pub async fn insert(conn: &mut AnyConnection, group: &Group) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO user_groups (id, name, name_key, parent_id, attributes, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(group.id.to_string())
    .bind(&group.name)
    .bind(lookup_key(&group.name))
    .bind(group.parent.map(|id| id.to_string()))
    .bind(serde_json::Value::Object(group.attributes.clone()).to_string())
    .bind(group.created_at)
    .bind(group.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes a group's name, parent and attributes.
///
/// # Errors
/// `Conflict` for a taken name.
pub async fn update(conn: &mut AnyConnection, group: &Group) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE user_groups SET name = $2, name_key = $3, parent_id = $4, attributes = $5, \
         updated_at = $6 WHERE id = $1",
    )
    .bind(group.id.to_string())
    .bind(&group.name)
    .bind(lookup_key(&group.name))
    .bind(group.parent.map(|id| id.to_string()))
    .bind(serde_json::Value::Object(group.attributes.clone()).to_string())
    .bind(group.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a group; false when there was none.
///
/// # Errors
/// A database failure.
pub async fn delete(conn: &mut AnyConnection, id: GroupId) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM user_groups WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// One group by id.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn get(conn: &mut AnyConnection, id: GroupId) -> Result<Option<Group>, StoreError> {
    let query = format!("SELECT {COLUMNS} FROM user_groups WHERE id = $1");
    let row = sqlx::query(&query)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// One group by name.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn find_by_name(
    conn: &mut AnyConnection,
    name: &str,
) -> Result<Option<Group>, StoreError> {
    let query = format!("SELECT {COLUMNS} FROM user_groups WHERE name_key = $1");
    let row = sqlx::query(&query)
        .bind(lookup_key(name))
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// A page of groups ordered by name key.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn list(
    conn: &mut AnyConnection,
    filter: &GroupFilter,
) -> Result<Vec<Group>, StoreError> {
    let query = format!(
        "SELECT {COLUMNS} FROM user_groups WHERE ($1 IS NULL OR name_key LIKE $1 ESCAPE '\\') \
         AND ($2 IS NULL OR name_key > $2) ORDER BY name_key LIMIT $3"
    );
    let pattern = filter.name.as_deref().map(super::users::like_pattern);
    let rows = sqlx::query(&query)
        .bind(pattern)
        .bind(filter.after.as_deref().map(lookup_key))
        .bind(i64::from(filter.limit))
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Every group above `id`, nearest first. `UNION` (not `UNION ALL`) stops
/// the walk even if a cycle was ever stored.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn ancestors(conn: &mut AnyConnection, id: GroupId) -> Result<Vec<GroupId>, StoreError> {
    let rows = sqlx::query(
        "WITH RECURSIVE up(id) AS ( \
           SELECT parent_id FROM user_groups WHERE id = $1 AND parent_id IS NOT NULL \
           UNION SELECT g.parent_id FROM user_groups g JOIN up ON g.id = up.id \
                 WHERE g.parent_id IS NOT NULL) \
         SELECT id FROM up",
    )
    .bind(id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| Ok(GroupId(uuid_column(row.try_get("id")?)?)))
        .collect()
}

/// Serialises changes to the group hierarchy until the transaction ends.
/// PostgreSQL takes a transaction-scoped advisory lock; SQLite needs none,
/// since its first write locks the database for the transaction.
///
/// # Errors
/// A database failure.
pub async fn lock_hierarchy(
    conn: &mut AnyConnection,
    backend: super::Backend,
) -> Result<(), StoreError> {
    if backend == super::Backend::Postgres {
        sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(7345001)) AS held")
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Adds a direct membership; an existing one is left as it is.
///
/// # Errors
/// `MissingReference` when the group or user is gone.
pub async fn add_member(
    conn: &mut AnyConnection,
    group: GroupId,
    user: UserId,
    at: Millis,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO group_members (group_id, user_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (group_id, user_id) DO NOTHING",
    )
    .bind(group.to_string())
    .bind(user.to_string())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes a direct membership; false when there was none.
///
/// # Errors
/// A database failure.
pub async fn remove_member(
    conn: &mut AnyConnection,
    group: GroupId,
    user: UserId,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
        .bind(group.to_string())
        .bind(user.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Direct or effective members of a group, ordered by username.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn members(
    conn: &mut AnyConnection,
    group: GroupId,
    effective: bool,
) -> Result<Vec<User>, StoreError> {
    let groups = if effective {
        "WITH RECURSIVE tree(id) AS (SELECT CAST($1 AS TEXT) \
           UNION SELECT g.id FROM user_groups g JOIN tree ON g.parent_id = tree.id) "
    } else {
        "WITH tree(id) AS (SELECT CAST($1 AS TEXT)) "
    };
    let query = format!(
        "{groups} SELECT {} FROM users WHERE id IN \
         (SELECT m.user_id FROM group_members m WHERE m.group_id IN (SELECT id FROM tree)) \
         ORDER BY username_key",
        super::users::COLUMNS
    );
    let rows = sqlx::query(&query)
        .bind(group.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(super::users::from_row).collect()
}

/// Direct or effective groups of a user, ordered by name.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn groups_of(
    conn: &mut AnyConnection,
    user: UserId,
    effective: bool,
) -> Result<Vec<Group>, StoreError> {
    let walk = if effective {
        "UNION SELECT g.parent_id FROM user_groups g JOIN up ON g.id = up.id \
         WHERE g.parent_id IS NOT NULL"
    } else {
        ""
    };
    let query = format!(
        "WITH RECURSIVE up(id) AS (SELECT group_id FROM group_members WHERE user_id = $1 {walk}) \
         SELECT {COLUMNS} FROM user_groups WHERE id IN (SELECT id FROM up) ORDER BY name_key"
    );
    let rows = sqlx::query(&query)
        .bind(user.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

fn from_row(row: &AnyRow) -> Result<Group, StoreError> {
    let parent: Option<String> = row.try_get("parent_id")?;
    Ok(Group {
        id: GroupId(uuid_column(row.try_get("id")?)?),
        name: row.try_get("name")?,
        parent: parent.as_deref().map(uuid_column).transpose()?.map(GroupId),
        attributes: json_column(row.try_get("attributes")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

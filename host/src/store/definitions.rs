//! Writing flows, stages, policies, their bindings and brands by their
//! natural keys (flow slug, stage name, policy name, brand name), for
//! blueprints. Every function takes the connection of a transaction the
//! caller owns, so a whole blueprint is written or nothing is.
//!
//! An upsert reads the row first and writes only when something differs, so
//! it can tell created, updated and unchanged apart. Deleting a flow, a
//! stage or a flow binding also deletes the policy bindings that targeted
//! what went away, since `policy_bindings.target_id` has no foreign key.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use super::{StoreError, Taken, flag, uuid_column};
use crate::brand::Brand;
use crate::clock::Millis;
use crate::flow::{Access, Designation, InvalidResponse};
use crate::policy::{PolicyConfig, PolicyMode};
use crate::stage::StageConfig;

/// What an upsert did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// A new row.
    Created,
    /// An existing row changed.
    Updated,
    /// The row already matched.
    Unchanged,
}

/// A flow without its bindings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowDefinition {
    /// URL name, the natural key.
    pub slug: String,
    /// Heading shown on its pages.
    pub title: String,
    /// What it is for.
    pub designation: Designation,
    /// Who may start it.
    pub access: Access,
    /// Whether any or all of the flow's policies must pass.
    pub policy_mode: PolicyMode,
}

/// A stage placed in a flow, by row ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowBindingDefinition {
    /// The flow.
    pub flow_id: Uuid,
    /// The stage.
    pub stage_id: Uuid,
    /// Order in the flow, unique within it.
    pub position: i64,
    /// Check the binding's policies when the flow is planned.
    pub evaluate_on_plan: bool,
    /// Check them again just before the stage shows.
    pub re_evaluate: bool,
    /// What a wrong answer does.
    pub invalid_response: InvalidResponse,
    /// Whether any or all of the binding's policies must pass.
    pub policy_mode: PolicyMode,
}

/// What a policy binding guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyTarget {
    /// A flow (checked when it starts).
    Flow(Uuid),
    /// A flow binding (checked when the flow is planned or the stage shows).
    Binding(Uuid),
}

impl PolicyTarget {
    /// The stored `target_kind` and `target_id`.
    fn columns(self) -> (&'static str, String) {
        match self {
            PolicyTarget::Flow(id) => ("flow", id.to_string()),
            PolicyTarget::Binding(id) => ("binding", id.to_string()),
        }
    }
}

/// A policy bound to a target, by row ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyBindingDefinition {
    /// The policy.
    pub policy_id: Uuid,
    /// What it guards.
    pub target: PolicyTarget,
    /// Order among the target's bindings.
    pub position: i64,
    /// Invert the result.
    pub negate: bool,
    /// Longest run in milliseconds before the policy counts as errored.
    pub timeout_ms: i64,
    /// Result used when the policy errors or times out.
    pub failure_result: bool,
    /// Disabled bindings are skipped.
    pub enabled: bool,
}

/// The stored name of a serde enum value (`authentication`, `retry`).
fn enum_text<T: Serialize>(value: &T) -> Result<String, StoreError> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => Ok(text),
        _ => Err(StoreError::Corrupt("enum without a stored name".to_owned())),
    }
}

fn enum_column<T: DeserializeOwned>(text: String, what: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.clone()))
        .map_err(|_| StoreError::Corrupt(format!("unknown {what} {text:?}")))
}

fn config_column<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(format!("{what}: {error}")))
}

fn config_text<T: Serialize>(config: &T) -> Result<String, StoreError> {
    serde_json::to_string(config).map_err(|error| StoreError::Corrupt(error.to_string()))
}

// Flows.

/// A flow (without bindings) and its id, by slug.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn flow(
    conn: &mut AnyConnection,
    slug: &str,
) -> Result<Option<(Uuid, FlowDefinition)>, StoreError> {
    let row = sqlx::query(
        "SELECT id, slug, title, designation, access, policy_mode FROM flows WHERE slug = $1",
    )
    .bind(slug)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let flow = FlowDefinition {
        slug: row.try_get("slug")?,
        title: row.try_get("title")?,
        designation: enum_column(row.try_get("designation")?, "designation")?,
        access: enum_column(row.try_get("access")?, "access")?,
        policy_mode: enum_column(row.try_get("policy_mode")?, "policy mode")?,
    };
    Ok(Some((uuid_column(row.try_get("id")?)?, flow)))
}

/// Creates the flow or makes it match `flow`, by slug.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn upsert_flow(
    conn: &mut AnyConnection,
    flow: &FlowDefinition,
    now: Millis,
) -> Result<(Uuid, Write), StoreError> {
    let existing = self::flow(conn, &flow.slug).await?;
    let (id, sql, write) = match existing {
        Some((id, old)) if old == *flow => return Ok((id, Write::Unchanged)),
        Some((id, _)) => (
            id,
            "UPDATE flows SET title = $2, designation = $3, access = $4, policy_mode = $5, \
             updated_at = $6 WHERE slug = $1",
            Write::Updated,
        ),
        None => (
            Uuid::new_v4(),
            "INSERT INTO flows (slug, title, designation, access, policy_mode, created_at, \
             updated_at, id) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
            Write::Created,
        ),
    };
    let mut query = sqlx::query(sql)
        .bind(&flow.slug)
        .bind(&flow.title)
        .bind(enum_text(&flow.designation)?)
        .bind(enum_text(&flow.access)?)
        .bind(flow.policy_mode.as_str())
        .bind(now);
    if write == Write::Created {
        query = query.bind(id.to_string());
    }
    query.execute(conn).await?;
    Ok((id, write))
}

/// Deletes a flow by slug with its bindings and every policy binding that
/// targeted it or them; false when there was none.
///
/// # Errors
/// A database failure.
pub async fn delete_flow(conn: &mut AnyConnection, slug: &str) -> Result<bool, StoreError> {
    let Some((id, _)) = flow(conn, slug).await? else {
        return Ok(false);
    };
    sqlx::query(
        "DELETE FROM policy_bindings WHERE (target_kind = 'flow' AND target_id = $1) \
         OR (target_kind = 'binding' AND target_id IN \
             (SELECT id FROM flow_bindings WHERE flow_id = $1))",
    )
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM flows WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(true)
}

// Stages and policies: a name, a kind and a typed config.

/// A stage's id and config, by name.
///
/// # Errors
/// A database failure or a stored config that does not fit its type.
pub async fn stage(
    conn: &mut AnyConnection,
    name: &str,
) -> Result<Option<(Uuid, StageConfig)>, StoreError> {
    let row = sqlx::query("SELECT id, config FROM stages WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let config = config_column(row.try_get("config")?, &format!("stage {name}"))?;
    Ok(Some((uuid_column(row.try_get("id")?)?, config)))
}

/// Creates the stage or gives it `config`, by name.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn upsert_stage(
    conn: &mut AnyConnection,
    name: &str,
    config: &StageConfig,
    now: Millis,
) -> Result<(Uuid, Write), StoreError> {
    let existing = stage(conn, name).await?;
    let (id, write) = match existing {
        Some((id, old)) if old == *config => return Ok((id, Write::Unchanged)),
        Some((id, _)) => (id, Write::Updated),
        None => (Uuid::new_v4(), Write::Created),
    };
    write_named(
        "stages",
        conn,
        (id, name),
        (config.kind(), config_text(config)?),
        write,
        now,
    )
    .await?;
    Ok((id, write))
}

/// Deletes a stage by name, with its flow bindings and the policy bindings
/// that targeted them; false when there was none.
///
/// # Errors
/// A database failure.
pub async fn delete_stage(conn: &mut AnyConnection, name: &str) -> Result<bool, StoreError> {
    sqlx::query(
        "DELETE FROM policy_bindings WHERE target_kind = 'binding' AND target_id IN \
         (SELECT b.id FROM flow_bindings b JOIN stages s ON s.id = b.stage_id WHERE s.name = $1)",
    )
    .bind(name)
    .execute(&mut *conn)
    .await?;
    let done = sqlx::query("DELETE FROM stages WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A policy's id and config, by name.
///
/// # Errors
/// A database failure or a stored config that does not fit its type.
pub async fn policy(
    conn: &mut AnyConnection,
    name: &str,
) -> Result<Option<(Uuid, PolicyConfig)>, StoreError> {
    let row = sqlx::query("SELECT id, config FROM policies WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let config = config_column(row.try_get("config")?, &format!("policy {name}"))?;
    Ok(Some((uuid_column(row.try_get("id")?)?, config)))
}

/// Creates the policy or gives it `config`, by name.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn upsert_policy(
    conn: &mut AnyConnection,
    name: &str,
    config: &PolicyConfig,
    now: Millis,
) -> Result<(Uuid, Write), StoreError> {
    let existing = policy(conn, name).await?;
    let (id, write) = match existing {
        Some((id, old)) if old == *config => return Ok((id, Write::Unchanged)),
        Some((id, _)) => (id, Write::Updated),
        None => (Uuid::new_v4(), Write::Created),
    };
    let text = config_text(config)?;
    let kind = policy_kind(&text)?;
    write_named("policies", conn, (id, name), (&kind, text), write, now).await?;
    Ok((id, write))
}

/// The `kind` tag of a serialized policy config.
fn policy_kind(text: &str) -> Result<String, StoreError> {
    let value: serde_json::Value = config_column(text, "policy")?;
    value
        .get("kind")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| StoreError::Corrupt("policy config without a kind".to_owned()))
}

/// Deletes a policy by name, with its bindings; false when there was none.
///
/// # Errors
/// A database failure.
pub async fn delete_policy(conn: &mut AnyConnection, name: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM policies WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Inserts or updates a row of `stages` or `policies` (same columns).
async fn write_named(
    table: &'static str,
    conn: &mut AnyConnection,
    (id, name): (Uuid, &str),
    (kind, config): (&str, String),
    write: Write,
    now: Millis,
) -> Result<(), StoreError> {
    let sql = match write {
        Write::Created => format!(
            "INSERT INTO {table} (id, name, kind, config, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)"
        ),
        _ => format!(
            "UPDATE {table} SET name = $2, kind = $3, config = $4, updated_at = $5 WHERE id = $1"
        ),
    };
    sqlx::query(&sql)
        .bind(id.to_string())
        .bind(name)
        .bind(kind)
        .bind(config)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

// Flow bindings: keyed by (flow, stage), or by (flow, position).

const BINDING_COLUMNS: &str =
    "id, flow_id, stage_id, position, evaluate_on_plan, re_evaluate, invalid_response, policy_mode";

fn binding_from_row(row: &AnyRow) -> Result<(Uuid, FlowBindingDefinition), StoreError> {
    let binding = FlowBindingDefinition {
        flow_id: uuid_column(row.try_get("flow_id")?)?,
        stage_id: uuid_column(row.try_get("stage_id")?)?,
        position: row.try_get("position")?,
        evaluate_on_plan: flag(row.try_get("evaluate_on_plan")?),
        re_evaluate: flag(row.try_get("re_evaluate")?),
        invalid_response: enum_column(row.try_get("invalid_response")?, "invalid response")?,
        policy_mode: enum_column(row.try_get("policy_mode")?, "policy mode")?,
    };
    Ok((uuid_column(row.try_get("id")?)?, binding))
}

/// The binding of `stage_id` in `flow_id`, else (when `position` is given)
/// the binding at that position.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn flow_binding(
    conn: &mut AnyConnection,
    flow_id: Uuid,
    stage_id: Option<Uuid>,
    position: Option<i64>,
) -> Result<Option<(Uuid, FlowBindingDefinition)>, StoreError> {
    if let Some(stage_id) = stage_id {
        let query = format!(
            "SELECT {BINDING_COLUMNS} FROM flow_bindings WHERE flow_id = $1 AND stage_id = $2 \
             ORDER BY position LIMIT 1"
        );
        let row = sqlx::query(&query)
            .bind(flow_id.to_string())
            .bind(stage_id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = row {
            return binding_from_row(&row).map(Some);
        }
    }
    let Some(position) = position else {
        return Ok(None);
    };
    let query =
        format!("SELECT {BINDING_COLUMNS} FROM flow_bindings WHERE flow_id = $1 AND position = $2");
    let row = sqlx::query(&query)
        .bind(flow_id.to_string())
        .bind(position)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(binding_from_row).transpose()
}

/// Makes the flow hold `binding`: the binding of the same stage moves and
/// changes to match; else the binding at the same position gets this stage;
/// else a new binding is made.
///
/// # Errors
/// `Conflict` when moving the stage's binding would put it on a position
/// another binding holds; a database failure.
pub async fn upsert_flow_binding(
    conn: &mut AnyConnection,
    binding: &FlowBindingDefinition,
) -> Result<(Uuid, Write), StoreError> {
    let found = flow_binding(
        conn,
        binding.flow_id,
        Some(binding.stage_id),
        Some(binding.position),
    )
    .await?;
    let (id, write) = match found {
        Some((id, old)) if old == *binding => return Ok((id, Write::Unchanged)),
        Some((id, old)) if old.position != binding.position => {
            let occupant =
                flow_binding(conn, binding.flow_id, None, Some(binding.position)).await?;
            if occupant.is_some() {
                return Err(StoreError::Conflict(Taken::Row));
            }
            (id, Write::Updated)
        }
        Some((id, _)) => (id, Write::Updated),
        None => (Uuid::new_v4(), Write::Created),
    };
    let sql = match write {
        Write::Created => {
            "INSERT INTO flow_bindings (id, flow_id, stage_id, position, evaluate_on_plan, \
             re_evaluate, invalid_response, policy_mode) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        }
        _ => {
            "UPDATE flow_bindings SET flow_id = $2, stage_id = $3, position = $4, \
             evaluate_on_plan = $5, re_evaluate = $6, invalid_response = $7, policy_mode = $8 \
             WHERE id = $1"
        }
    };
    sqlx::query(sql)
        .bind(id.to_string())
        .bind(binding.flow_id.to_string())
        .bind(binding.stage_id.to_string())
        .bind(binding.position)
        .bind(i64::from(binding.evaluate_on_plan))
        .bind(i64::from(binding.re_evaluate))
        .bind(enum_text(&binding.invalid_response)?)
        .bind(binding.policy_mode.as_str())
        .execute(conn)
        .await?;
    Ok((id, write))
}

/// Deletes a flow binding by id with the policy bindings that targeted it;
/// false when there was none.
///
/// # Errors
/// A database failure.
pub async fn delete_flow_binding(conn: &mut AnyConnection, id: Uuid) -> Result<bool, StoreError> {
    sqlx::query("DELETE FROM policy_bindings WHERE target_kind = 'binding' AND target_id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM flow_bindings WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

// Policy bindings: keyed by (policy, target).

/// The binding of `policy_id` to `target`.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn policy_binding(
    conn: &mut AnyConnection,
    policy_id: Uuid,
    target: PolicyTarget,
) -> Result<Option<(Uuid, PolicyBindingDefinition)>, StoreError> {
    let (kind, target_id) = target.columns();
    let row = sqlx::query(
        "SELECT id, position, negate, timeout_ms, failure_result, enabled FROM policy_bindings \
         WHERE policy_id = $1 AND target_kind = $2 AND target_id = $3 ORDER BY position LIMIT 1",
    )
    .bind(policy_id.to_string())
    .bind(kind)
    .bind(target_id)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let binding = PolicyBindingDefinition {
        policy_id,
        target,
        position: row.try_get("position")?,
        negate: flag(row.try_get("negate")?),
        timeout_ms: row.try_get("timeout_ms")?,
        failure_result: flag(row.try_get("failure_result")?),
        enabled: flag(row.try_get("enabled")?),
    };
    Ok(Some((uuid_column(row.try_get("id")?)?, binding)))
}

/// Creates the binding of a policy to a target or makes it match.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn upsert_policy_binding(
    conn: &mut AnyConnection,
    binding: &PolicyBindingDefinition,
) -> Result<(Uuid, Write), StoreError> {
    let found = policy_binding(conn, binding.policy_id, binding.target).await?;
    let (id, write) = match found {
        Some((id, old)) if old == *binding => return Ok((id, Write::Unchanged)),
        Some((id, _)) => (id, Write::Updated),
        None => (Uuid::new_v4(), Write::Created),
    };
    let sql = match write {
        Write::Created => {
            "INSERT INTO policy_bindings (id, policy_id, target_kind, target_id, position, \
             negate, timeout_ms, failure_result, enabled) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        }
        _ => {
            "UPDATE policy_bindings SET policy_id = $2, target_kind = $3, target_id = $4, \
             position = $5, negate = $6, timeout_ms = $7, failure_result = $8, enabled = $9 \
             WHERE id = $1"
        }
    };
    let (kind, target_id) = binding.target.columns();
    sqlx::query(sql)
        .bind(id.to_string())
        .bind(binding.policy_id.to_string())
        .bind(kind)
        .bind(target_id)
        .bind(binding.position)
        .bind(i64::from(binding.negate))
        .bind(binding.timeout_ms)
        .bind(i64::from(binding.failure_result))
        .bind(i64::from(binding.enabled))
        .execute(conn)
        .await?;
    Ok((id, write))
}

/// Deletes the bindings of `policy_id` to `target`; false when there were
/// none.
///
/// # Errors
/// A database failure.
pub async fn delete_policy_binding(
    conn: &mut AnyConnection,
    policy_id: Uuid,
    target: PolicyTarget,
) -> Result<bool, StoreError> {
    let (kind, target_id) = target.columns();
    let done = sqlx::query(
        "DELETE FROM policy_bindings WHERE policy_id = $1 AND target_kind = $2 AND target_id = $3",
    )
    .bind(policy_id.to_string())
    .bind(kind)
    .bind(target_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

// Brands: keyed by name.

/// Creates the brand or makes it match `brand`, by name; `brand.id` is
/// ignored. A brand made the default takes that role from every other.
///
/// # Errors
/// `Conflict` when another brand has the domain; a database failure.
pub async fn upsert_brand(
    conn: &mut AnyConnection,
    brand: &Brand,
    now: Millis,
) -> Result<(Uuid, Write), StoreError> {
    let existing = super::brands::named(conn, &brand.name).await?;
    let (id, write) = match existing {
        Some(old)
            if Brand {
                id: old.id,
                ..brand.clone()
            } == old =>
        {
            return Ok((old.id, Write::Unchanged));
        }
        Some(old) => (old.id, Write::Updated),
        None => (Uuid::new_v4(), Write::Created),
    };
    if brand.is_default {
        sqlx::query(
            "UPDATE brands SET is_default = 0, updated_at = $2 \
             WHERE is_default = 1 AND id <> $1",
        )
        .bind(id.to_string())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    let sql = match write {
        Write::Created => {
            "INSERT INTO brands (id, name, domain, is_default, title, logo_url, primary_color, \
             background_color, flow_authentication, flow_enrollment, flow_recovery, \
             flow_invalidation, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)"
        }
        _ => {
            "UPDATE brands SET name = $2, domain = $3, is_default = $4, title = $5, \
             logo_url = $6, primary_color = $7, background_color = $8, \
             flow_authentication = $9, flow_enrollment = $10, flow_recovery = $11, \
             flow_invalidation = $12, updated_at = $13 WHERE id = $1"
        }
    };
    sqlx::query(sql)
        .bind(id.to_string())
        .bind(&brand.name)
        .bind(&brand.domain)
        .bind(i64::from(brand.is_default))
        .bind(&brand.title)
        .bind(&brand.logo_url)
        .bind(&brand.primary_color)
        .bind(&brand.background_color)
        .bind(&brand.flow_authentication)
        .bind(&brand.flow_enrollment)
        .bind(&brand.flow_recovery)
        .bind(&brand.flow_invalidation)
        .bind(now)
        .execute(conn)
        .await?;
    Ok((id, write))
}

/// Deletes a brand by name; false when there was none.
///
/// # Errors
/// A database failure.
pub async fn delete_brand(conn: &mut AnyConnection, name: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM brands WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

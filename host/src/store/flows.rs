//! Reading flows, stages, policies and their bindings.

use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{StoreError, flag, uuid_column};
use crate::flow::{Access, Designation, Flow, InvalidResponse, StageBinding};
use crate::policy::{Policy, PolicyBinding, PolicyConfig, PolicyMode};
use crate::stage::{Stage, StageConfig};

fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(format!("{what}: {error}")))
}

fn enum_column<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("unknown {what} {text:?}")))
}

/// A flow by slug, with its bindings and their stages in order.
///
/// # Errors
/// A database failure or a stored value that does not fit its type.
pub async fn load(conn: &mut AnyConnection, slug: &str) -> Result<Option<Flow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, slug, title, designation, access, policy_mode FROM flows WHERE slug = $1",
    )
    .bind(slug)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id = uuid_column(row.try_get("id")?)?;
    let rows = sqlx::query(
        "SELECT b.id, b.position, b.evaluate_on_plan, b.re_evaluate, b.invalid_response, \
                b.policy_mode, s.id AS stage_id, s.name AS stage_name, s.config AS stage_config \
         FROM flow_bindings b JOIN stages s ON s.id = b.stage_id \
         WHERE b.flow_id = $1 ORDER BY b.position",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let bindings = rows
        .iter()
        .map(binding_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let policy_mode: String = row.try_get("policy_mode")?;
    Ok(Some(Flow {
        id,
        slug: row.try_get("slug")?,
        title: row.try_get("title")?,
        designation: enum_column::<Designation>(row.try_get("designation")?, "designation")?,
        access: enum_column::<Access>(row.try_get("access")?, "access")?,
        policy_mode: PolicyMode::parse(&policy_mode)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown policy mode {policy_mode:?}")))?,
        bindings,
    }))
}

fn binding_from_row(row: &AnyRow) -> Result<StageBinding, StoreError> {
    let stage_name: String = row.try_get("stage_name")?;
    let config: StageConfig = parse(row.try_get("stage_config")?, &format!("stage {stage_name}"))?;
    let policy_mode: String = row.try_get("policy_mode")?;
    Ok(StageBinding {
        id: uuid_column(row.try_get("id")?)?,
        position: row.try_get("position")?,
        stage: Stage {
            id: uuid_column(row.try_get("stage_id")?)?,
            name: stage_name,
            config,
        },
        evaluate_on_plan: flag(row.try_get("evaluate_on_plan")?),
        re_evaluate: flag(row.try_get("re_evaluate")?),
        invalid_response: enum_column::<InvalidResponse>(
            row.try_get("invalid_response")?,
            "invalid response",
        )?,
        policy_mode: PolicyMode::parse(&policy_mode)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown policy mode {policy_mode:?}")))?,
    })
}

/// The policy bindings of a target (`flow` or `binding`), in order.
///
/// # Errors
/// A database failure or a stored policy that does not fit its type.
pub async fn policy_bindings(
    conn: &mut AnyConnection,
    target_kind: &str,
    target_id: uuid::Uuid,
) -> Result<Vec<PolicyBinding>, StoreError> {
    let rows = sqlx::query(
        "SELECT b.id, b.position, b.negate, b.timeout_ms, b.failure_result, b.enabled, \
                p.id AS policy_id, p.name AS policy_name, p.config AS policy_config \
         FROM policy_bindings b JOIN policies p ON p.id = b.policy_id \
         WHERE b.target_kind = $1 AND b.target_id = $2 ORDER BY b.position",
    )
    .bind(target_kind)
    .bind(target_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let name: String = row.try_get("policy_name")?;
            let config: PolicyConfig =
                parse(row.try_get("policy_config")?, &format!("policy {name}"))?;
            let timeout_ms: i64 = row.try_get("timeout_ms")?;
            Ok(PolicyBinding {
                id: uuid_column(row.try_get("id")?)?,
                policy: Policy {
                    id: uuid_column(row.try_get("policy_id")?)?,
                    name,
                    config,
                },
                position: row.try_get("position")?,
                negate: flag(row.try_get("negate")?),
                timeout: Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0)),
                failure_result: flag(row.try_get("failure_result")?),
                enabled: flag(row.try_get("enabled")?),
            })
        })
        .collect()
}

/// A policy by name.
///
/// # Errors
/// A database failure or a stored policy that does not fit its type.
pub async fn policy_named(
    conn: &mut AnyConnection,
    name: &str,
) -> Result<Option<Policy>, StoreError> {
    let row = sqlx::query("SELECT id, name, config FROM policies WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let name: String = row.try_get("name")?;
    let config: PolicyConfig = parse(row.try_get("config")?, &format!("policy {name}"))?;
    Ok(Some(Policy {
        id: uuid_column(row.try_get("id")?)?,
        name,
        config,
    }))
}

//! Reading brands: the one for a request host, or one by name. Writes go
//! through [`super::definitions`], with the other blueprint objects.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{StoreError, flag, uuid_column};
use crate::brand::{Brand, host_name};

pub(super) const COLUMNS: &str = "id, name, domain, is_default, title, logo_url, primary_color, \
     background_color, flow_authentication, flow_enrollment, flow_recovery, flow_invalidation";

/// The brand for a request `host` (a `Host` header value; case and port do
/// not matter): the brand with that exact domain, else the default brand,
/// else `None` (the caller then uses [`Brand::builtin`]).
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn for_host(conn: &mut AnyConnection, host: &str) -> Result<Option<Brand>, StoreError> {
    let host = host_name(host);
    // The exact match sorts first; among several defaults, the first name.
    let query = format!(
        "SELECT {COLUMNS} FROM brands \
         WHERE (domain = $1 AND domain <> '') OR is_default = 1 \
         ORDER BY CASE WHEN domain = $1 THEN 0 ELSE 1 END, name LIMIT 1"
    );
    let row = sqlx::query(&query).bind(host).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// One brand by name.
///
/// # Errors
/// A database failure or a corrupt row.
pub async fn named(conn: &mut AnyConnection, name: &str) -> Result<Option<Brand>, StoreError> {
    let query = format!("SELECT {COLUMNS} FROM brands WHERE name = $1");
    let row = sqlx::query(&query).bind(name).fetch_optional(conn).await?;
    row.as_ref().map(from_row).transpose()
}

pub(super) fn from_row(row: &AnyRow) -> Result<Brand, StoreError> {
    Ok(Brand {
        id: uuid_column(row.try_get("id")?)?,
        name: row.try_get("name")?,
        domain: row.try_get("domain")?,
        is_default: flag(row.try_get("is_default")?),
        title: row.try_get("title")?,
        logo_url: row.try_get("logo_url")?,
        primary_color: row.try_get("primary_color")?,
        background_color: row.try_get("background_color")?,
        flow_authentication: row.try_get("flow_authentication")?,
        flow_enrollment: row.try_get("flow_enrollment")?,
        flow_recovery: row.try_get("flow_recovery")?,
        flow_invalidation: row.try_get("flow_invalidation")?,
    })
}

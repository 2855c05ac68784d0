//! Blueprints: configuration as code. A blueprint is a YAML (or JSON) file of
//! entries (flows, stages, flow bindings, policies, policy bindings, groups
//! and brands), each with an identifier, references to other entries by
//! identifier, and a desired state.
//!
//! Applying one is idempotent (a second apply changes nothing) and atomic
//! (one transaction; any error rolls all of it back). The default flows ship
//! as blueprints embedded in the binary ([`DEFAULTS`]) with `created`
//! entries, applied at every start, so an admin's edits are never
//! overwritten. `docs/blueprints.md` describes the format; [`json_schema`]
//! generates `docs/blueprint.schema.json`.

pub mod entry;
mod index;
pub mod report;
mod writer;

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use entry::{Entry, EntryKind, State};
pub use report::{Change, Counts, EntryReport, Report};

use crate::clock::Clock;
use crate::event::{AuditContext, Event, Outcome};
use crate::store::{self, Store, StoreError};

/// The format version this Castellan reads.
pub const VERSION: u32 = 1;

/// The blueprints Castellan ships, by file name, in the order they apply:
/// the brand last, since it refers to the flows.
pub const DEFAULTS: [(&str, &str); 5] = [
    (
        "default-authentication.yaml",
        include_str!("../blueprints/default-authentication.yaml"),
    ),
    (
        "default-enrollment.yaml",
        include_str!("../blueprints/default-enrollment.yaml"),
    ),
    (
        "default-recovery.yaml",
        include_str!("../blueprints/default-recovery.yaml"),
    ),
    (
        "default-invalidation.yaml",
        include_str!("../blueprints/default-invalidation.yaml"),
    ),
    (
        "default-brand.yaml",
        include_str!("../blueprints/default-brand.yaml"),
    ),
];

/// A parsed and checked blueprint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Castellan blueprint")]
pub struct Blueprint {
    /// Format version; 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Name, shown in reports and the audit log.
    pub name: String,
    /// What the blueprint is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The entries; their order in the file does not matter.
    #[serde(default)]
    pub entries: Vec<Entry>,
}

/// The outer shape, read before the entries so that an entry's error can
/// name the entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    version: u32,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    entries: Vec<Value>,
}

/// What is wrong with one entry.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// A field is missing, unknown or of the wrong type, or the kind is
    /// unknown.
    #[error("{0}")]
    Invalid(String),
    /// The identifier is empty.
    #[error("the id is empty")]
    EmptyId,
    /// Another entry has the same identifier.
    #[error("the id is already used by entry {0}")]
    DuplicateId(usize),
    /// Another entry defines the same object.
    #[error("{what} is already defined by entry {other}")]
    Conflict {
        /// The object.
        what: String,
        /// The other entry, from 1.
        other: usize,
    },
    /// A field the state needs is missing.
    #[error("a {kind} needs `{field}`")]
    Missing {
        /// The entry's kind.
        kind: EntryKind,
        /// The field.
        field: &'static str,
    },
    /// A field's value cannot be used.
    #[error("{field}: {message}")]
    BadValue {
        /// The field.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// A reference names no entry of the file and no existing object.
    #[error("unknown {kind} {name:?}")]
    UnknownReference {
        /// What was looked for (`flow`, `stage`, ...).
        kind: &'static str,
        /// The key looked for.
        name: String,
    },
    /// A policy binding's target does not exist.
    #[error("unknown target: the {0} does not exist")]
    UnknownTarget(String),
    /// A reference names an entry of another kind.
    #[error("{reference:?} is a {found} entry, not a {expected}")]
    WrongKind {
        /// The reference.
        reference: String,
        /// What the field needs.
        expected: &'static str,
        /// What the entry is.
        found: EntryKind,
    },
    /// A reference names an entry whose state is `absent`.
    #[error("{0:?} names an entry whose state is absent")]
    RefersToAbsent(String),
    /// Groups would nest inside themselves.
    #[error("the group would be nested inside itself")]
    GroupCycle,
    /// A unique value belongs to an object the entry does not define.
    #[error("{0}")]
    Taken(String),
    /// The object may not be changed this way.
    #[error("{0}")]
    Protected(&'static str),
}

/// Why a blueprint could not be read, checked or applied.
#[derive(Debug, thiserror::Error)]
pub enum BlueprintError {
    /// The text is not YAML (or JSON) of the blueprint's outer shape.
    #[error("invalid blueprint: {0}")]
    Syntax(String),
    /// The format version is not one this Castellan reads.
    #[error("unsupported blueprint version {0}; this Castellan reads version 1")]
    Version(u32),
    /// One entry is wrong.
    #[error("entry {index}{}: {error}", describe_id(.id.as_deref()))]
    Entry {
        /// Position in the file, from 1.
        index: usize,
        /// The entry's identifier, when it has one.
        id: Option<String>,
        /// What is wrong.
        error: EntryError,
    },
    /// A blueprint file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A blueprint file is wrong.
    #[error("{}: {cause}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (in the message, not a source, so that an
        /// error chain does not print it twice).
        cause: Box<BlueprintError>,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe_id(id: Option<&str>) -> String {
    id.map(|id| format!(" (id {id:?})")).unwrap_or_default()
}

impl BlueprintError {
    /// An error of the entry at `position` (from 0).
    pub(crate) fn entry(position: usize, entry: &Entry, error: EntryError) -> BlueprintError {
        let (_, id, _) = entry.header();
        BlueprintError::Entry {
            index: position + 1,
            id: Some(id.to_owned()),
            error,
        }
    }

    /// Whether the error lies in the blueprint (syntax, entries, files)
    /// rather than in the database.
    pub fn is_invalid_blueprint(&self) -> bool {
        match self {
            BlueprintError::Store(_) | BlueprintError::Read { .. } => false,
            BlueprintError::File { cause, .. } => cause.is_invalid_blueprint(),
            _ => true,
        }
    }

    /// A unique value was taken, perhaps by another server applying the
    /// same blueprint at the same moment.
    fn is_conflict(&self) -> bool {
        matches!(
            self,
            BlueprintError::Store(StoreError::Conflict(_))
                | BlueprintError::Entry {
                    error: EntryError::Taken(_),
                    ..
                }
        )
    }
}

/// Parses and checks a YAML blueprint (JSON, being YAML, also parses).
///
/// # Errors
/// A syntax error, an unsupported version, or a wrong entry (named).
pub fn parse(text: &str) -> Result<Blueprint, BlueprintError> {
    let document: Document =
        serde_norway::from_str(text).map_err(|error| BlueprintError::Syntax(error.to_string()))?;
    from_document(document)
}

/// Parses and checks a JSON blueprint.
///
/// # Errors
/// A syntax error, an unsupported version, or a wrong entry (named).
pub fn parse_json(text: &str) -> Result<Blueprint, BlueprintError> {
    let document: Document =
        serde_json::from_str(text).map_err(|error| BlueprintError::Syntax(error.to_string()))?;
    from_document(document)
}

/// Reads and checks a blueprint file.
///
/// # Errors
/// The file cannot be read, or is not a valid blueprint; the error names
/// the file.
pub fn load(path: &Path) -> Result<Blueprint, BlueprintError> {
    let text = std::fs::read_to_string(path).map_err(|source| BlueprintError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(|error| BlueprintError::File {
        path: path.to_owned(),
        cause: Box::new(error),
    })
}

fn from_document(document: Document) -> Result<Blueprint, BlueprintError> {
    if document.version != VERSION {
        return Err(BlueprintError::Version(document.version));
    }
    if document.name.trim().is_empty() {
        return Err(BlueprintError::Syntax("name must not be empty".to_owned()));
    }
    let mut entries = Vec::with_capacity(document.entries.len());
    for (position, value) in document.entries.into_iter().enumerate() {
        let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
        let entry =
            serde_json::from_value::<Entry>(value).map_err(|error| BlueprintError::Entry {
                index: position + 1,
                id,
                error: EntryError::Invalid(error.to_string()),
            })?;
        entries.push(entry);
    }
    let blueprint = Blueprint {
        version: document.version,
        name: document.name,
        description: document.description,
        entries,
    };
    check(&blueprint)?;
    Ok(blueprint)
}

/// Checks what can be checked without a database: identifiers, required
/// fields, values, references between entries and conflicting entries.
///
/// # Errors
/// The first wrong entry, named.
pub fn check(blueprint: &Blueprint) -> Result<(), BlueprintError> {
    index::check(&blueprint.entries).map(drop)
}

/// The objects a blueprint refers to without defining them, by kind and
/// key, in order; they must exist when it is applied.
///
/// # Errors
/// The blueprint does not pass [`check`].
pub fn external_references(
    blueprint: &Blueprint,
) -> Result<Vec<(EntryKind, String)>, BlueprintError> {
    let index = index::check(&blueprint.entries)?;
    Ok(index.external().into_iter().collect())
}

/// Applies a blueprint in one transaction and records one
/// `blueprint.apply` audit event when it changed anything (an apply that
/// changes nothing leaves no trace).
///
/// # Errors
/// A wrong entry (named; nothing is written) or a database failure.
#[tracing::instrument(skip_all, fields(blueprint = %blueprint.name))]
pub async fn apply(
    store: &Store,
    clock: &Clock,
    context: &AuditContext,
    blueprint: &Blueprint,
) -> Result<Report, BlueprintError> {
    let index = index::check(&blueprint.entries)?;
    let now = clock.now();
    let mut tx = store.begin().await?;
    let report = writer::write(&mut tx, &blueprint.name, &index, now).await?;
    if !report.changed() {
        // Ends the (read-only) transaction now rather than when the
        // connection is next used.
        tx.commit().await?;
        tracing::debug!("blueprint applied; nothing changed");
        return Ok(report);
    }
    let totals = report.totals();
    let event = Event::new(context, now, "blueprint.apply", Outcome::Success)
        .target("blueprint", &blueprint.name)
        .detail("created", totals.created)
        .detail("updated", totals.updated)
        .detail("unchanged", totals.unchanged)
        .detail("deleted", totals.deleted);
    store::events::insert(tx.conn(), &event).await?;
    tx.commit().await?;
    tracing::info!(
        created = totals.created,
        updated = totals.updated,
        deleted = totals.deleted,
        "blueprint applied"
    );
    Ok(report)
}

/// Applies a blueprint as the server itself, once more if another server
/// wrote the same objects at the same moment.
async fn apply_at_start(
    store: &Store,
    clock: &Clock,
    blueprint: &Blueprint,
) -> Result<Report, BlueprintError> {
    let context = AuditContext::system();
    match apply(store, clock, &context, blueprint).await {
        Err(error) if error.is_conflict() => apply(store, clock, &context, blueprint).await,
        other => other,
    }
}

/// Applies the [`DEFAULTS`], each in its own transaction. Their entries are
/// `created`: missing objects come back, existing ones are left alone.
///
/// # Errors
/// A database failure (the defaults themselves are tested).
pub async fn apply_defaults(store: &Store, clock: &Clock) -> Result<Vec<Report>, BlueprintError> {
    let mut reports = Vec::with_capacity(DEFAULTS.len());
    for (file, text) in DEFAULTS {
        let blueprint = parse(text).map_err(|error| BlueprintError::File {
            path: PathBuf::from(file),
            cause: Box::new(error),
        })?;
        reports.push(apply_at_start(store, clock, &blueprint).await?);
    }
    Ok(reports)
}

/// Applies every `*.yaml` and `*.yml` file of `folder` in name order, each
/// in its own transaction, stopping at the first that fails.
///
/// # Errors
/// The folder or a file cannot be read, a blueprint is wrong (the error
/// names the file and the entry), or the database failed.
pub async fn apply_folder(
    store: &Store,
    clock: &Clock,
    folder: &Path,
) -> Result<Vec<Report>, BlueprintError> {
    let mut reports = Vec::new();
    for path in folder_files(folder)? {
        let blueprint = load(&path)?;
        let report = apply_at_start(store, clock, &blueprint)
            .await
            .map_err(|error| BlueprintError::File {
                path: path.clone(),
                cause: Box::new(error),
            })?;
        reports.push(report);
    }
    Ok(reports)
}

/// The blueprint files of a folder, sorted by name.
fn folder_files(folder: &Path) -> Result<Vec<PathBuf>, BlueprintError> {
    let read_error = |source| BlueprintError::Read {
        path: folder.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for item in std::fs::read_dir(folder).map_err(read_error)? {
        let path = item.map_err(read_error)?.path();
        let yaml = path
            .extension()
            .is_some_and(|extension| extension == "yaml" || extension == "yml");
        if yaml && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The JSON Schema of the blueprint format.
pub fn json_schema() -> Value {
    schemars::schema_for!(Blueprint).to_value()
}

#[cfg(test)]
mod tests;

//! What applying a blueprint did: one change per entry, and counts per kind.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::entry::EntryKind;

/// What applying did to one entry's object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The object was made.
    Created,
    /// The object existed and was changed to match.
    Updated,
    /// Nothing to do: the object matched, or a `created` entry found it, or
    /// an `absent` entry found nothing.
    Unchanged,
    /// The object was deleted.
    Deleted,
}

impl Change {
    /// The name used in reports (`created`).
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
            Change::Deleted => "deleted",
        }
    }
}

/// How many entries ended in each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Counts {
    /// Objects made.
    pub created: u32,
    /// Objects changed.
    pub updated: u32,
    /// Entries with nothing to do.
    pub unchanged: u32,
    /// Objects deleted.
    pub deleted: u32,
}

impl Counts {
    fn add(&mut self, change: Change) {
        let count = match change {
            Change::Created => &mut self.created,
            Change::Updated => &mut self.updated,
            Change::Unchanged => &mut self.unchanged,
            Change::Deleted => &mut self.deleted,
        };
        *count += 1;
    }

    /// Objects created, updated or deleted.
    pub fn changed(&self) -> u32 {
        self.created + self.updated + self.deleted
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} unchanged, {} deleted",
            self.created, self.updated, self.unchanged, self.deleted
        )
    }
}

/// What happened to one entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EntryReport {
    /// Position of the entry in the file, from 1.
    pub entry: usize,
    /// The entry's identifier.
    pub id: String,
    /// The entry's kind.
    pub kind: EntryKind,
    /// What applying did.
    pub change: Change,
}

/// What applying a blueprint did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    /// The blueprint's name.
    pub blueprint: String,
    /// Counts per entry kind (only kinds the blueprint has).
    pub kinds: BTreeMap<EntryKind, Counts>,
    /// Every entry, in file order.
    pub entries: Vec<EntryReport>,
}

impl Report {
    pub(super) fn new(blueprint: &str) -> Report {
        Report {
            blueprint: blueprint.to_owned(),
            kinds: BTreeMap::new(),
            entries: Vec::new(),
        }
    }

    pub(super) fn record(&mut self, position: usize, id: &str, kind: EntryKind, change: Change) {
        self.kinds.entry(kind).or_default().add(change);
        self.entries.push(EntryReport {
            entry: position + 1,
            id: id.to_owned(),
            kind,
            change,
        });
    }

    pub(super) fn sort(&mut self) {
        self.entries.sort_by_key(|entry| entry.entry);
    }

    /// The counts over all kinds.
    pub fn totals(&self) -> Counts {
        let mut totals = Counts::default();
        for entry in &self.entries {
            totals.add(entry.change);
        }
        totals
    }

    /// Whether applying created, updated or deleted anything.
    pub fn changed(&self) -> bool {
        self.totals().changed() > 0
    }
}

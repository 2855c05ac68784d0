//! The index of a blueprint's entries, and the checks that need no
//! database: unique identifiers, required attributes, well-formed values,
//! references that lead to an entry of the right kind, and no two entries
//! for one object.
//!
//! A reference that names no entry of the file is left to the database: it
//! must name an existing object when the blueprint is applied.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use super::entry::{
    BrandEntry, Entry, EntryKind, FlowBindingEntry, GroupEntry, PolicyBindingEntry, State,
};
use super::{BlueprintError, EntryError};
use crate::brand::is_hex_color;
use crate::identity::user::{check_name, lookup_key};

/// Largest JSON size of a group's attributes, as for the admin API.
const MAX_ATTRIBUTES_BYTES: usize = 64 * 1024;

/// Longest flow slug.
const MAX_SLUG: usize = 100;

/// Where a reference leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reference<'a> {
    /// An entry of the file (its position) and the key of its object.
    Entry(usize, &'a str),
    /// An object that must exist in the database, by key.
    Existing(&'a str),
}

impl<'a> Reference<'a> {
    /// The slug or name of the object referred to.
    pub(super) fn key(self) -> &'a str {
        match self {
            Reference::Entry(_, key) | Reference::Existing(key) => key,
        }
    }
}

/// What a policy binding's `target` leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target<'a> {
    /// A flow.
    Flow(Reference<'a>),
    /// The flow binding entry at this position.
    Binding(usize),
}

/// One object that only one entry may define.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Flow(String),
    Stage(String),
    Policy(String),
    Group(String),
    Brand(String),
    Domain(String),
    DefaultBrand,
    BindingOfStage(String, String),
    BindingAtOrder(String, i64),
    PolicyBinding(String, TargetKey),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum TargetKey {
    Flow(String),
    Binding(usize),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Flow(slug) => write!(f, "flow {slug:?}"),
            Key::Stage(name) => write!(f, "stage {name:?}"),
            Key::Policy(name) => write!(f, "policy {name:?}"),
            Key::Group(name) => write!(f, "group {name:?}"),
            Key::Brand(name) => write!(f, "brand {name:?}"),
            Key::Domain(domain) => write!(f, "the brand of domain {domain:?}"),
            Key::DefaultBrand => f.write_str("the default brand"),
            Key::BindingOfStage(flow, stage) => {
                write!(f, "the binding of stage {stage:?} in flow {flow:?}")
            }
            Key::BindingAtOrder(flow, order) => write!(f, "order {order} of flow {flow:?}"),
            Key::PolicyBinding(policy, TargetKey::Flow(flow)) => {
                write!(f, "the binding of policy {policy:?} to flow {flow:?}")
            }
            Key::PolicyBinding(policy, TargetKey::Binding(entry)) => write!(
                f,
                "the binding of policy {policy:?} to the flow binding of entry {}",
                entry + 1
            ),
        }
    }
}

/// A blueprint's entries by identifier.
pub(super) struct Index<'a> {
    entries: &'a [Entry],
    by_id: HashMap<&'a str, (usize, &'a Entry)>,
}

impl<'a> Index<'a> {
    /// Indexes `entries`, refusing empty and repeated identifiers.
    fn new(entries: &'a [Entry]) -> Result<Index<'a>, BlueprintError> {
        let mut by_id = HashMap::new();
        for (position, entry) in entries.iter().enumerate() {
            let (_, id, _) = entry.header();
            if id.trim().is_empty() {
                return Err(BlueprintError::entry(position, entry, EntryError::EmptyId));
            }
            if let Some((first, _)) = by_id.insert(id, (position, entry)) {
                let error = EntryError::DuplicateId(first + 1);
                return Err(BlueprintError::entry(position, entry, error));
            }
        }
        Ok(Index { entries, by_id })
    }

    /// The entries in file order.
    pub(super) fn entries(&self) -> &'a [Entry] {
        self.entries
    }

    /// The entry at `position`.
    pub(super) fn entry(&self, position: usize) -> Option<&'a Entry> {
        self.entries.get(position)
    }

    /// Resolves a reference from an entry in state `from` to an object of
    /// `kind`: an entry of that kind (which must not be absent unless the
    /// referring entry is absent too), or else an existing object.
    pub(super) fn resolve(
        &self,
        reference: &'a str,
        kind: EntryKind,
        from: State,
    ) -> Result<Reference<'a>, EntryError> {
        let Some(&(position, entry)) = self.by_id.get(reference) else {
            return Ok(Reference::Existing(reference));
        };
        let (found, _, state) = entry.header();
        if found != kind {
            return Err(EntryError::WrongKind {
                reference: reference.to_owned(),
                expected: kind.as_str(),
                found,
            });
        }
        if state == State::Absent && from != State::Absent {
            return Err(EntryError::RefersToAbsent(reference.to_owned()));
        }
        Ok(Reference::Entry(position, object_key(entry)))
    }

    /// Resolves a policy binding's target: a flow or flow binding entry, or
    /// an existing flow.
    pub(super) fn target(&self, reference: &'a str, from: State) -> Result<Target<'a>, EntryError> {
        match self.by_id.get(reference) {
            Some(&(position, Entry::FlowBinding(binding))) => {
                if binding.state == State::Absent && from != State::Absent {
                    return Err(EntryError::RefersToAbsent(reference.to_owned()));
                }
                Ok(Target::Binding(position))
            }
            Some(&(_, Entry::Flow(_))) | None => Ok(Target::Flow(self.resolve(
                reference,
                EntryKind::Flow,
                from,
            )?)),
            Some(&(_, other)) => Err(EntryError::WrongKind {
                reference: reference.to_owned(),
                expected: "flow or flow_binding",
                found: other.header().0,
            }),
        }
    }

    /// Objects the blueprint expects to exist already: the references that
    /// name no entry, by kind and key.
    pub(super) fn external(&self) -> BTreeSet<(EntryKind, String)> {
        let mut external = BTreeSet::new();
        for entry in self.entries {
            let (_, _, state) = entry.header();
            for (kind, reference) in references(entry) {
                if let Ok(Reference::Existing(key)) = self.resolve(reference, kind, state) {
                    external.insert((kind, key.to_owned()));
                }
            }
            if let Entry::PolicyBinding(binding) = entry {
                let target = self.target(&binding.target, state);
                if let Ok(Target::Flow(Reference::Existing(key))) = target {
                    external.insert((EntryKind::Flow, key.to_owned()));
                }
            }
        }
        external
    }

    /// The objects an entry defines, for finding two entries of one object.
    fn keys(&self, entry: &'a Entry) -> Result<Vec<Key>, EntryError> {
        let (_, _, state) = entry.header();
        let keys = match entry {
            Entry::Flow(flow) => vec![Key::Flow(flow.slug.clone())],
            Entry::Stage(stage) => vec![Key::Stage(stage.name.clone())],
            Entry::Policy(policy) => vec![Key::Policy(policy.name.clone())],
            Entry::Group(group) => vec![Key::Group(lookup_key(&group.name))],
            Entry::Brand(brand) => brand_keys(brand),
            Entry::FlowBinding(binding) => {
                let flow = self.resolve(&binding.flow, EntryKind::Flow, state)?.key();
                let mut keys = Vec::new();
                if let Some(stage) = &binding.stage {
                    let stage = self.resolve(stage, EntryKind::Stage, state)?.key();
                    keys.push(Key::BindingOfStage(flow.to_owned(), stage.to_owned()));
                }
                if let Some(order) = binding.order {
                    keys.push(Key::BindingAtOrder(flow.to_owned(), order));
                }
                keys
            }
            Entry::PolicyBinding(binding) => {
                let policy = self
                    .resolve(&binding.policy, EntryKind::Policy, state)?
                    .key();
                let target = match self.target(&binding.target, state)? {
                    Target::Flow(flow) => TargetKey::Flow(flow.key().to_owned()),
                    Target::Binding(position) => TargetKey::Binding(position),
                };
                vec![Key::PolicyBinding(policy.to_owned(), target)]
            }
        };
        Ok(keys)
    }
}

fn brand_keys(brand: &BrandEntry) -> Vec<Key> {
    let mut keys = vec![Key::Brand(brand.name.clone())];
    if !brand.domain.is_empty() {
        keys.push(Key::Domain(brand.domain.clone()));
    }
    if brand.is_default && brand.state != State::Absent {
        keys.push(Key::DefaultBrand);
    }
    keys
}

/// The slug or name of the object an entry defines (bindings have none).
fn object_key(entry: &Entry) -> &str {
    match entry {
        Entry::Flow(flow) => &flow.slug,
        Entry::Stage(stage) => &stage.name,
        Entry::Policy(policy) => &policy.name,
        Entry::Group(group) => &group.name,
        Entry::Brand(brand) => &brand.name,
        Entry::FlowBinding(binding) => &binding.id,
        Entry::PolicyBinding(binding) => &binding.id,
    }
}

/// An entry's references to objects of one kind (a policy binding's target,
/// a flow or a flow binding, is resolved by [`Index::target`]).
fn references(entry: &Entry) -> Vec<(EntryKind, &str)> {
    match entry {
        Entry::FlowBinding(binding) => {
            let mut found = vec![(EntryKind::Flow, binding.flow.as_str())];
            found.extend(
                binding
                    .stage
                    .as_deref()
                    .map(|stage| (EntryKind::Stage, stage)),
            );
            found
        }
        Entry::PolicyBinding(binding) => vec![(EntryKind::Policy, binding.policy.as_str())],
        Entry::Group(group) => group
            .parent
            .as_deref()
            .map(|parent| vec![(EntryKind::Group, parent)])
            .unwrap_or_default(),
        Entry::Brand(brand) => [
            &brand.flow_authentication,
            &brand.flow_enrollment,
            &brand.flow_recovery,
            &brand.flow_invalidation,
        ]
        .into_iter()
        .flatten()
        .map(|flow| (EntryKind::Flow, flow.as_str()))
        .collect(),
        Entry::Flow(_) | Entry::Stage(_) | Entry::Policy(_) => Vec::new(),
    }
}

/// Checks every entry and returns the index of a valid blueprint.
pub(super) fn check(entries: &[Entry]) -> Result<Index<'_>, BlueprintError> {
    let index = Index::new(entries)?;
    let mut defined: HashMap<Key, usize> = HashMap::new();
    for (position, entry) in entries.iter().enumerate() {
        let fail = |error| BlueprintError::entry(position, entry, error);
        check_entry(&index, entry).map_err(fail)?;
        for key in index.keys(entry).map_err(fail)? {
            let what = key.to_string();
            if let Some(first) = defined.insert(key, position) {
                return Err(fail(EntryError::Conflict {
                    what,
                    other: first + 1,
                }));
            }
        }
    }
    check_group_nesting(&index)?;
    Ok(index)
}

fn check_entry(index: &Index<'_>, entry: &Entry) -> Result<(), EntryError> {
    let (kind, _, state) = entry.header();
    let writes = state != State::Absent;
    for (kind, reference) in references(entry) {
        index.resolve(reference, kind, state)?;
    }
    match entry {
        Entry::Flow(flow) => {
            check_slug(&flow.slug)?;
            require(writes && flow.designation.is_none(), kind, "designation")
        }
        Entry::Stage(stage) => {
            check_name("name", &stage.name).map_err(invalid)?;
            require(writes && stage.config.is_none(), kind, "config")
        }
        Entry::Policy(policy) => {
            check_name("name", &policy.name).map_err(invalid)?;
            require(writes && policy.config.is_none(), kind, "config")
        }
        Entry::FlowBinding(binding) => check_flow_binding(binding),
        Entry::PolicyBinding(binding) => check_policy_binding(index, binding),
        Entry::Group(group) => check_group(group),
        Entry::Brand(brand) => check_brand(brand),
    }
}

fn require(missing: bool, kind: EntryKind, field: &'static str) -> Result<(), EntryError> {
    match missing {
        true => Err(EntryError::Missing { kind, field }),
        false => Ok(()),
    }
}

fn invalid(error: impl fmt::Display) -> EntryError {
    EntryError::Invalid(error.to_string())
}

fn bad(field: &'static str, message: &str) -> EntryError {
    EntryError::BadValue {
        field,
        message: message.to_owned(),
    }
}

fn check_slug(slug: &str) -> Result<(), EntryError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if slug.is_empty() || slug.len() > MAX_SLUG || !slug.chars().all(allowed) {
        return Err(bad(
            "slug",
            "must be 1 to 100 lower-case letters, digits, '-' or '_'",
        ));
    }
    Ok(())
}

fn check_flow_binding(binding: &FlowBindingEntry) -> Result<(), EntryError> {
    let kind = EntryKind::FlowBinding;
    if binding.state == State::Absent {
        let neither = binding.stage.is_none() && binding.order.is_none();
        return require(neither, kind, "stage` or `order");
    }
    require(binding.stage.is_none(), kind, "stage")?;
    require(binding.order.is_none(), kind, "order")
}

fn check_policy_binding(index: &Index<'_>, binding: &PolicyBindingEntry) -> Result<(), EntryError> {
    index.target(&binding.target, binding.state)?;
    if binding.timeout_ms <= 0 {
        return Err(bad("timeout_ms", "must be more than 0"));
    }
    Ok(())
}

fn check_group(group: &GroupEntry) -> Result<(), EntryError> {
    check_name("name", &group.name).map_err(invalid)?;
    if group.parent.as_deref() == Some(group.id.as_str()) {
        return Err(EntryError::GroupCycle);
    }
    let size = serde_json::Value::Object(group.attributes.clone())
        .to_string()
        .len();
    if size > MAX_ATTRIBUTES_BYTES {
        return Err(bad("attributes", "must be at most 64 KiB of JSON"));
    }
    Ok(())
}

fn check_brand(brand: &BrandEntry) -> Result<(), EntryError> {
    check_name("name", &brand.name).map_err(invalid)?;
    let host_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    if !brand.domain.chars().all(host_char) {
        return Err(bad(
            "domain",
            "must be a lower-case host name without scheme, port or path",
        ));
    }
    if brand.title.trim().is_empty() || brand.title.chars().any(char::is_control) {
        return Err(bad("title", "must be text without control characters"));
    }
    for (field, color) in [
        ("primary_color", &brand.primary_color),
        ("background_color", &brand.background_color),
    ] {
        if !is_hex_color(color) {
            return Err(bad(field, "must be a hex colour such as #1f4fd1"));
        }
    }
    if let Some(url) = &brand.logo_url {
        let web = url.starts_with("https://") || url.starts_with("http://");
        if !(web || crate::flow::is_local_path(url)) || url.chars().any(char::is_whitespace) {
            return Err(bad(
                "logo_url",
                "must be an https:// or http:// URL or a local path",
            ));
        }
    }
    Ok(())
}

/// Refuses groups of the file that nest in a loop through each other.
fn check_group_nesting(index: &Index<'_>) -> Result<(), BlueprintError> {
    for (position, entry) in index.entries().iter().enumerate() {
        let Entry::Group(group) = entry else {
            continue;
        };
        let mut parent = group.parent.as_deref();
        let mut steps = 0;
        while let Some(Reference::Entry(next, _)) =
            parent.and_then(|name| index.resolve(name, EntryKind::Group, State::Absent).ok())
        {
            steps += 1;
            if next == position || steps > index.entries().len() {
                return Err(BlueprintError::entry(
                    position,
                    entry,
                    EntryError::GroupCycle,
                ));
            }
            parent = match index.entry(next) {
                Some(Entry::Group(above)) => above.parent.as_deref(),
                _ => None,
            };
        }
    }
    Ok(())
}

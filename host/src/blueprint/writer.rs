//! Writes a checked blueprint inside the caller's transaction.
//!
//! Deletions run first, bindings before what they bind, so an `absent`
//! entry can free a name or a position that a `present` entry then takes.
//! Creations and updates follow, what is bound before the bindings (and
//! parent groups before their children), so entries may come in any order
//! in the file. References are looked up by key in the transaction, which
//! sees the writes of earlier entries.

use std::collections::HashMap;

use uuid::Uuid;

use super::entry::{
    BrandEntry, Entry, EntryKind, FlowBindingEntry, FlowEntry, GroupEntry, PolicyBindingEntry,
    PolicyEntry, StageEntry, State,
};
use super::index::{Index, Reference, Target};
use super::report::{Change, Report};
use super::{BlueprintError, EntryError};
use crate::brand::Brand;
use crate::clock::Millis;
use crate::identity::group::{ADMIN_GROUP, Group, GroupId};
use crate::identity::user::lookup_key;
use crate::store::definitions::{
    self, FlowBindingDefinition, FlowDefinition, PolicyBindingDefinition, PolicyTarget, Write,
};
use crate::store::{self, StoreError, Tx};

/// Kinds in the order their deletions run.
const DELETE_ORDER: [EntryKind; 7] = [
    EntryKind::PolicyBinding,
    EntryKind::FlowBinding,
    EntryKind::Brand,
    EntryKind::Stage,
    EntryKind::Policy,
    EntryKind::Flow,
    EntryKind::Group,
];

/// Kinds in the order their creations and updates run.
const WRITE_ORDER: [EntryKind; 7] = [
    EntryKind::Group,
    EntryKind::Flow,
    EntryKind::Stage,
    EntryKind::Policy,
    EntryKind::FlowBinding,
    EntryKind::PolicyBinding,
    EntryKind::Brand,
];

/// Why one entry could not be written.
enum Failure {
    Entry(EntryError),
    Store(StoreError),
}

impl From<EntryError> for Failure {
    fn from(error: EntryError) -> Self {
        Failure::Entry(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

impl Failure {
    /// A unique value taken by a row the entry does not own (or one written
    /// at the same moment by another server) is the entry's problem; other
    /// store failures are not.
    fn into_error(self, position: usize, entry: &Entry) -> BlueprintError {
        let error = match self {
            Failure::Entry(error) => error,
            Failure::Store(StoreError::Conflict(_)) => {
                EntryError::Taken("conflicts with an existing object".to_owned())
            }
            Failure::Store(error) => return BlueprintError::Store(error),
        };
        BlueprintError::entry(position, entry, error)
    }
}

fn unknown(kind: &'static str, name: &str) -> EntryError {
    EntryError::UnknownReference {
        kind,
        name: name.to_owned(),
    }
}

fn missing(kind: EntryKind, field: &'static str) -> EntryError {
    EntryError::Missing { kind, field }
}

fn change(write: Write) -> Change {
    match write {
        Write::Created => Change::Created,
        Write::Updated => Change::Updated,
        Write::Unchanged => Change::Unchanged,
    }
}

fn deleted(found: bool) -> Change {
    if found {
        Change::Deleted
    } else {
        Change::Unchanged
    }
}

/// Writes the entries of `index` and reports what each did.
pub(super) async fn write(
    tx: &mut Tx,
    name: &str,
    index: &Index<'_>,
    now: Millis,
) -> Result<Report, BlueprintError> {
    let mut writer = Writer {
        tx,
        index,
        now,
        bindings: HashMap::new(),
        report: Report::new(name),
    };
    for kind in DELETE_ORDER {
        for position in positions(index, kind, true) {
            writer.run(position).await?;
        }
    }
    for kind in WRITE_ORDER {
        for position in positions(index, kind, false) {
            writer.run(position).await?;
        }
    }
    writer.report.sort();
    Ok(writer.report)
}

/// Positions of the entries of `kind` that delete (or write), in file
/// order; groups with parents in the file after those parents.
fn positions(index: &Index<'_>, kind: EntryKind, deleting: bool) -> Vec<usize> {
    let mut found: Vec<usize> = index
        .entries()
        .iter()
        .enumerate()
        .filter(|(_, entry)| {
            let (entry_kind, _, state) = entry.header();
            entry_kind == kind && (state == State::Absent) == deleting
        })
        .map(|(position, _)| position)
        .collect();
    if kind == EntryKind::Group {
        found.sort_by_key(|&position| group_depth(index, position));
    }
    found
}

/// How many group entries of the file a group is nested in (the check has
/// refused cycles; the bound only guards against a mistake there).
fn group_depth(index: &Index<'_>, position: usize) -> usize {
    let mut depth = 0;
    let mut current = index.entry(position);
    while let Some(Entry::Group(group)) = current {
        let parent = group.parent.as_deref();
        let next =
            parent.and_then(|name| index.resolve(name, EntryKind::Group, State::Absent).ok());
        let Some(Reference::Entry(above, _)) = next else {
            break;
        };
        depth += 1;
        if depth > index.entries().len() {
            break;
        }
        current = index.entry(above);
    }
    depth
}

struct Writer<'t, 'i, 'a> {
    tx: &'t mut Tx,
    index: &'i Index<'a>,
    now: Millis,
    /// Row ids of the flow binding entries written so far, by position.
    bindings: HashMap<usize, Uuid>,
    report: Report,
}

impl<'a> Writer<'_, '_, 'a> {
    async fn run(&mut self, position: usize) -> Result<(), BlueprintError> {
        let Some(entry) = self.index.entry(position) else {
            return Ok(());
        };
        let outcome = match entry {
            Entry::Flow(flow) => self.flow(flow).await,
            Entry::Stage(stage) => self.stage(stage).await,
            Entry::Policy(policy) => self.policy(policy).await,
            Entry::FlowBinding(binding) => self.flow_binding(position, binding).await,
            Entry::PolicyBinding(binding) => self.policy_binding(binding).await,
            Entry::Group(group) => self.group(group).await,
            Entry::Brand(brand) => self.brand(brand).await,
        };
        let change = outcome.map_err(|failure| failure.into_error(position, entry))?;
        let (kind, id, _) = entry.header();
        self.report.record(position, id, kind, change);
        Ok(())
    }

    async fn flow(&mut self, entry: &FlowEntry) -> Result<Change, Failure> {
        let conn = self.tx.conn();
        if entry.state == State::Absent {
            return Ok(deleted(definitions::delete_flow(conn, &entry.slug).await?));
        }
        let designation = entry
            .designation
            .ok_or_else(|| missing(EntryKind::Flow, "designation"))?;
        if entry.state == State::Created && definitions::flow(conn, &entry.slug).await?.is_some() {
            return Ok(Change::Unchanged);
        }
        let flow = FlowDefinition {
            slug: entry.slug.clone(),
            title: entry.title.clone().unwrap_or_else(|| entry.slug.clone()),
            designation,
            access: entry.access,
            policy_mode: entry.policy_mode,
        };
        let (_, write) = definitions::upsert_flow(conn, &flow, self.now).await?;
        Ok(change(write))
    }

    async fn stage(&mut self, entry: &StageEntry) -> Result<Change, Failure> {
        let conn = self.tx.conn();
        if entry.state == State::Absent {
            return Ok(deleted(definitions::delete_stage(conn, &entry.name).await?));
        }
        let config = entry
            .config
            .as_ref()
            .ok_or_else(|| missing(EntryKind::Stage, "config"))?;
        if entry.state == State::Created && definitions::stage(conn, &entry.name).await?.is_some() {
            return Ok(Change::Unchanged);
        }
        let (_, write) = definitions::upsert_stage(conn, &entry.name, config, self.now).await?;
        Ok(change(write))
    }

    async fn policy(&mut self, entry: &PolicyEntry) -> Result<Change, Failure> {
        let conn = self.tx.conn();
        if entry.state == State::Absent {
            return Ok(deleted(
                definitions::delete_policy(conn, &entry.name).await?,
            ));
        }
        let config = entry
            .config
            .as_ref()
            .ok_or_else(|| missing(EntryKind::Policy, "config"))?;
        if entry.state == State::Created && definitions::policy(conn, &entry.name).await?.is_some()
        {
            return Ok(Change::Unchanged);
        }
        let (_, write) = definitions::upsert_policy(conn, &entry.name, config, self.now).await?;
        Ok(change(write))
    }

    /// The ids of a binding's flow and stage, when they exist.
    async fn binding_ends(
        &mut self,
        entry: &'a FlowBindingEntry,
    ) -> Result<(&'a str, Option<Uuid>, Option<&'a str>, Option<Uuid>), Failure> {
        let flow = self
            .index
            .resolve(&entry.flow, EntryKind::Flow, entry.state)?;
        let stage = match &entry.stage {
            Some(stage) => Some(self.index.resolve(stage, EntryKind::Stage, entry.state)?),
            None => None,
        };
        let conn = self.tx.conn();
        let flow_id = definitions::flow(conn, flow.key()).await?.map(|(id, _)| id);
        let stage_id = match stage {
            Some(stage) => definitions::stage(conn, stage.key())
                .await?
                .map(|(id, _)| id),
            None => None,
        };
        Ok((flow.key(), flow_id, stage.map(Reference::key), stage_id))
    }

    /// The row of a flow binding entry: by flow and stage when it names a
    /// stage, else by flow and order.
    async fn find_binding(&mut self, entry: &'a FlowBindingEntry) -> Result<Option<Uuid>, Failure> {
        let (_, flow_id, stage, stage_id) = self.binding_ends(entry).await?;
        let Some(flow_id) = flow_id else {
            return Ok(None);
        };
        let conn = self.tx.conn();
        let found = match (stage, stage_id) {
            // No such stage, so no binding of it either.
            (Some(_), None) => None,
            (Some(_), Some(stage_id)) => {
                definitions::flow_binding(conn, flow_id, Some(stage_id), None).await?
            }
            (None, _) => definitions::flow_binding(conn, flow_id, None, entry.order).await?,
        };
        Ok(found.map(|(id, _)| id))
    }

    async fn flow_binding(
        &mut self,
        position: usize,
        entry: &'a FlowBindingEntry,
    ) -> Result<Change, Failure> {
        if entry.state == State::Absent {
            let Some(id) = self.find_binding(entry).await? else {
                return Ok(Change::Unchanged);
            };
            let found = definitions::delete_flow_binding(self.tx.conn(), id).await?;
            return Ok(deleted(found));
        }
        let kind = EntryKind::FlowBinding;
        let (flow, flow_id, stage, stage_id) = self.binding_ends(entry).await?;
        let flow_id = flow_id.ok_or_else(|| unknown("flow", flow))?;
        let stage = stage.ok_or_else(|| missing(kind, "stage"))?;
        let stage_id = stage_id.ok_or_else(|| unknown("stage", stage))?;
        let order = entry.order.ok_or_else(|| missing(kind, "order"))?;
        let conn = self.tx.conn();
        if entry.state == State::Created {
            let found =
                definitions::flow_binding(conn, flow_id, Some(stage_id), Some(order)).await?;
            if let Some((id, _)) = found {
                self.bindings.insert(position, id);
                return Ok(Change::Unchanged);
            }
        }
        let binding = FlowBindingDefinition {
            flow_id,
            stage_id,
            position: order,
            evaluate_on_plan: entry.evaluate_on_plan,
            re_evaluate: entry.re_evaluate,
            invalid_response: entry.invalid_response,
            policy_mode: entry.policy_mode,
        };
        let (id, write) = match definitions::upsert_flow_binding(conn, &binding).await {
            Err(StoreError::Conflict(_)) => {
                let taken = format!("order {order} of flow {flow:?} is held by another stage");
                return Err(EntryError::Taken(taken).into());
            }
            other => other?,
        };
        self.bindings.insert(position, id);
        Ok(change(write))
    }

    /// The row a policy binding's target names, when it exists.
    async fn target(
        &mut self,
        target: Target<'a>,
    ) -> Result<(Option<PolicyTarget>, String), Failure> {
        match target {
            Target::Flow(flow) => {
                let found = definitions::flow(self.tx.conn(), flow.key()).await?;
                let id = found.map(|(id, _)| PolicyTarget::Flow(id));
                Ok((id, format!("flow {:?}", flow.key())))
            }
            Target::Binding(position) => {
                let what = format!("flow binding of entry {}", position + 1);
                if let Some(&id) = self.bindings.get(&position) {
                    return Ok((Some(PolicyTarget::Binding(id)), what));
                }
                let Some(Entry::FlowBinding(binding)) = self.index.entry(position) else {
                    return Ok((None, what));
                };
                let id = self.find_binding(binding).await?;
                Ok((id.map(PolicyTarget::Binding), what))
            }
        }
    }

    async fn policy_binding(&mut self, entry: &'a PolicyBindingEntry) -> Result<Change, Failure> {
        let policy = self
            .index
            .resolve(&entry.policy, EntryKind::Policy, entry.state)?
            .key();
        let target = self.index.target(&entry.target, entry.state)?;
        let (target, what) = self.target(target).await?;
        let conn = self.tx.conn();
        let policy_id = definitions::policy(conn, policy).await?.map(|(id, _)| id);
        if entry.state == State::Absent {
            let (Some(policy_id), Some(target)) = (policy_id, target) else {
                return Ok(Change::Unchanged);
            };
            let found = definitions::delete_policy_binding(conn, policy_id, target).await?;
            return Ok(deleted(found));
        }
        let policy_id = policy_id.ok_or_else(|| unknown("policy", policy))?;
        let target = target.ok_or(EntryError::UnknownTarget(what))?;
        if entry.state == State::Created
            && definitions::policy_binding(conn, policy_id, target)
                .await?
                .is_some()
        {
            return Ok(Change::Unchanged);
        }
        let binding = PolicyBindingDefinition {
            policy_id,
            target,
            position: entry.order,
            negate: entry.negate,
            timeout_ms: entry.timeout_ms,
            failure_result: entry.failure_result,
            enabled: entry.enabled,
        };
        let (_, write) = definitions::upsert_policy_binding(conn, &binding).await?;
        Ok(change(write))
    }

    async fn group(&mut self, entry: &'a GroupEntry) -> Result<Change, Failure> {
        let conn = self.tx.conn();
        let existing = store::groups::find_by_name(conn, &entry.name).await?;
        if entry.state == State::Absent {
            let Some(group) = existing else {
                return Ok(Change::Unchanged);
            };
            if lookup_key(&group.name) == ADMIN_GROUP {
                return Err(EntryError::Protected("the admin group cannot be deleted").into());
            }
            return Ok(deleted(store::groups::delete(conn, group.id).await?));
        }
        if entry.state == State::Created && existing.is_some() {
            return Ok(Change::Unchanged);
        }
        let parent = match &entry.parent {
            Some(parent) => {
                let name = self
                    .index
                    .resolve(parent, EntryKind::Group, entry.state)?
                    .key();
                let found = store::groups::find_by_name(conn, name).await?;
                Some(found.ok_or_else(|| unknown("group", name))?.id)
            }
            None => None,
        };
        let Some(mut group) = existing else {
            let group = Group {
                id: GroupId(Uuid::new_v4()),
                name: entry.name.clone(),
                parent,
                attributes: entry.attributes.clone(),
                created_at: self.now,
                updated_at: self.now,
            };
            store::groups::insert(conn, &group).await?;
            return Ok(Change::Created);
        };
        if group.name == entry.name
            && group.parent == parent
            && group.attributes == entry.attributes
        {
            return Ok(Change::Unchanged);
        }
        if let Some(parent) = parent {
            let above = store::groups::ancestors(conn, parent).await?;
            if parent == group.id || above.contains(&group.id) {
                return Err(EntryError::GroupCycle.into());
            }
        }
        group.name = entry.name.clone();
        group.parent = parent;
        group.attributes = entry.attributes.clone();
        group.updated_at = self.now;
        store::groups::update(conn, &group).await?;
        Ok(Change::Updated)
    }

    /// The slug of a brand's flow, which must exist.
    async fn brand_flow(
        &mut self,
        reference: Option<&'a String>,
        state: State,
    ) -> Result<Option<String>, Failure> {
        let Some(reference) = reference else {
            return Ok(None);
        };
        let slug = self.index.resolve(reference, EntryKind::Flow, state)?.key();
        if definitions::flow(self.tx.conn(), slug).await?.is_none() {
            return Err(unknown("flow", slug).into());
        }
        Ok(Some(slug.to_owned()))
    }

    async fn brand(&mut self, entry: &'a BrandEntry) -> Result<Change, Failure> {
        if entry.state == State::Absent {
            let found = definitions::delete_brand(self.tx.conn(), &entry.name).await?;
            return Ok(deleted(found));
        }
        let existing = store::brands::named(self.tx.conn(), &entry.name).await?;
        if entry.state == State::Created && existing.is_some() {
            return Ok(Change::Unchanged);
        }
        let brand = Brand {
            id: Uuid::nil(),
            name: entry.name.clone(),
            domain: entry.domain.clone(),
            is_default: entry.is_default,
            title: entry.title.clone(),
            logo_url: entry.logo_url.clone(),
            primary_color: entry.primary_color.clone(),
            background_color: entry.background_color.clone(),
            flow_authentication: self
                .brand_flow(entry.flow_authentication.as_ref(), entry.state)
                .await?,
            flow_enrollment: self
                .brand_flow(entry.flow_enrollment.as_ref(), entry.state)
                .await?,
            flow_recovery: self
                .brand_flow(entry.flow_recovery.as_ref(), entry.state)
                .await?,
            flow_invalidation: self
                .brand_flow(entry.flow_invalidation.as_ref(), entry.state)
                .await?,
        };
        match definitions::upsert_brand(self.tx.conn(), &brand, self.now).await {
            Ok((_, write)) => Ok(change(write)),
            Err(StoreError::Conflict(_)) => {
                let taken = format!("domain {:?} belongs to another brand", entry.domain);
                Err(EntryError::Taken(taken).into())
            }
            Err(error) => Err(error.into()),
        }
    }
}

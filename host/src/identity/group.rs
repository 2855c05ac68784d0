//! Groups: nesting, attributes and memberships. A member of a group is an
//! effective member of every group above it.

use std::fmt;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::user::{User, UserId, check_attributes, check_name, lookup_key};
use super::{Directory, IdentityError};
use crate::api::{CreateGroup, GroupFilterQuery, UpdateGroup};
use crate::clock::Millis;
use crate::event::{AuditContext, Event, Outcome};
use crate::store::{self, StoreError, Tx};

/// Name of the group whose (effective) members administer Castellan. It
/// exists from the first start and can be neither renamed nor deleted.
pub const ADMIN_GROUP: &str = "castellan-admins";

/// A group's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupId(pub Uuid);

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A group of users.
#[derive(Clone, Debug)]
pub struct Group {
    /// Stable id.
    pub id: GroupId,
    /// Unique (case-insensitively) name.
    pub name: String,
    /// The group this one is nested in.
    pub parent: Option<GroupId>,
    /// Free-form attributes.
    pub attributes: Map<String, Value>,
    /// Creation time.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
}

/// Filter and page for listing groups, ordered by name.
#[derive(Clone, Debug, Default)]
pub struct GroupFilter {
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Only groups whose name sorts after this (the page cursor).
    pub after: Option<String>,
    /// Page size.
    pub limit: u32,
}

fn is_admin_group(group: &Group) -> bool {
    lookup_key(&group.name) == ADMIN_GROUP
}

impl Directory {
    /// Creates a group and records `group.create`.
    ///
    /// # Errors
    /// Invalid fields, a taken name, an unknown parent or a database failure.
    pub async fn create_group(
        &self,
        context: &AuditContext,
        input: CreateGroup,
    ) -> Result<Group, IdentityError> {
        check_name("name", &input.name)?;
        let attributes = input.attributes.unwrap_or_default();
        check_attributes(&attributes)?;
        let parent = input.parent.map(GroupId);
        if let Some(parent) = parent {
            self.group(parent)
                .await
                .map_err(|_| IdentityError::invalid("parent", "no such group"))?;
        }
        let now = self.clock.now();
        let group = Group {
            id: GroupId(Uuid::new_v4()),
            name: input.name,
            parent,
            attributes,
            created_at: now,
            updated_at: now,
        };
        let event =
            Event::new(context, now, "group.create", Outcome::Success).target("group", group.id);
        self.write(context, event, async |tx: &mut Tx| {
            store::groups::insert(tx.conn(), &group).await
        })
        .await?;
        Ok(group)
    }

    /// Changes a group's name, parent or attributes and records
    /// `group.update`. A parent that would make a cycle is refused.
    ///
    /// # Errors
    /// Unknown group, invalid fields, a cycle, a taken name or a database
    /// failure.
    pub async fn update_group(
        &self,
        context: &AuditContext,
        id: GroupId,
        input: UpdateGroup,
    ) -> Result<Group, IdentityError> {
        let mut group = self.group(id).await?;
        let mut changed = Vec::new();
        if let Some(name) = input.name {
            check_name("name", &name)?;
            if is_admin_group(&group) && lookup_key(&name) != ADMIN_GROUP {
                return Err(IdentityError::invalid(
                    "name",
                    "the admin group cannot be renamed",
                ));
            }
            group.name = name;
            changed.push("name");
        }
        if let Some(parent) = input.parent {
            let parent = parent.map(GroupId);
            if let Some(parent) = parent {
                self.check_parent(id, parent).await?;
            }
            group.parent = parent;
            changed.push("parent");
        }
        if let Some(attributes) = input.attributes {
            check_attributes(&attributes)?;
            group.attributes = attributes;
            changed.push("attributes");
        }
        group.updated_at = self.clock.now();
        let event = Event::new(context, group.updated_at, "group.update", Outcome::Success)
            .target("group", group.id)
            .detail("changed", changed);
        let backend = self.store.backend();
        self.write(context, event, async |tx: &mut Tx| {
            // Checked again inside the transaction, after the write and
            // under the hierarchy lock, so two concurrent moves cannot
            // make a cycle that neither saw alone.
            store::groups::lock_hierarchy(tx.conn(), backend).await?;
            store::groups::update(tx.conn(), &group).await?;
            if let Some(parent) = group.parent {
                let above = store::groups::ancestors(tx.conn(), parent).await?;
                if parent == group.id || above.contains(&group.id) {
                    return Err(StoreError::Cycle);
                }
            }
            Ok(())
        })
        .await
        .map_err(|error| match error {
            IdentityError::Store(StoreError::Cycle) => {
                IdentityError::invalid("parent", "would nest the group inside itself")
            }
            other => other,
        })?;
        Ok(group)
    }

    /// Refuses a parent that is unknown, the group itself, or below it.
    async fn check_parent(&self, id: GroupId, parent: GroupId) -> Result<(), IdentityError> {
        self.group(parent)
            .await
            .map_err(|_| IdentityError::invalid("parent", "no such group"))?;
        let mut conn = self.store.conn().await?;
        let above_parent = store::groups::ancestors(&mut conn, parent).await?;
        if parent == id || above_parent.contains(&id) {
            return Err(IdentityError::invalid(
                "parent",
                "would nest the group inside itself",
            ));
        }
        Ok(())
    }

    /// Deletes a group (its subgroups move to the top level) and records
    /// `group.delete`.
    ///
    /// # Errors
    /// Unknown group, the admin group, or a database failure.
    pub async fn delete_group(
        &self,
        context: &AuditContext,
        id: GroupId,
    ) -> Result<(), IdentityError> {
        let group = self.group(id).await?;
        if is_admin_group(&group) {
            return Err(IdentityError::invalid(
                "group",
                "the admin group cannot be deleted",
            ));
        }
        let event = Event::new(context, self.clock.now(), "group.delete", Outcome::Success)
            .target("group", id);
        self.write(context, event, async |tx: &mut Tx| {
            store::groups::delete(tx.conn(), id).await.map(drop)
        })
        .await
    }

    /// One group by id.
    ///
    /// # Errors
    /// Unknown group or a database failure.
    pub async fn group(&self, id: GroupId) -> Result<Group, IdentityError> {
        let mut conn = self.store.conn().await?;
        store::groups::get(&mut conn, id)
            .await?
            .ok_or(IdentityError::NotFound("group"))
    }

    /// One group by name.
    ///
    /// # Errors
    /// A database failure.
    pub async fn group_named(&self, name: &str) -> Result<Option<Group>, IdentityError> {
        let mut conn = self.store.conn().await?;
        Ok(store::groups::find_by_name(&mut conn, name).await?)
    }

    /// A page of groups matching `query`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn groups(&self, query: &GroupFilterQuery) -> Result<Vec<Group>, IdentityError> {
        let filter = GroupFilter {
            name: query.name.clone(),
            after: query.after.clone(),
            limit: query.limit(),
        };
        let mut conn = self.store.conn().await?;
        Ok(store::groups::list(&mut conn, &filter).await?)
    }

    /// Makes a user a direct member of a group and records
    /// `group.member.add`. Adding an existing member changes nothing.
    ///
    /// # Errors
    /// Unknown group or user, or a database failure.
    pub async fn add_member(
        &self,
        context: &AuditContext,
        group: GroupId,
        user: UserId,
    ) -> Result<(), IdentityError> {
        self.group(group).await?;
        self.user(user).await?;
        let now = self.clock.now();
        let event = Event::new(context, now, "group.member.add", Outcome::Success)
            .target("group", group)
            .detail("user", user.to_string());
        self.write(context, event, async |tx: &mut Tx| {
            store::groups::add_member(tx.conn(), group, user, now).await
        })
        .await
        .map_err(member_not_found)
    }

    /// Ends a user's direct membership of a group and records
    /// `group.member.remove`.
    ///
    /// # Errors
    /// Unknown group or membership, or a database failure.
    pub async fn remove_member(
        &self,
        context: &AuditContext,
        group: GroupId,
        user: UserId,
    ) -> Result<(), IdentityError> {
        if is_admin_group(&self.group(group).await?) {
            self.keep_an_admin(user).await?;
        }
        let event = Event::new(
            context,
            self.clock.now(),
            "group.member.remove",
            Outcome::Success,
        )
        .target("group", group)
        .detail("user", user.to_string());
        self.write(
            context,
            event,
            async |tx: &mut Tx| match store::groups::remove_member(tx.conn(), group, user).await? {
                true => Ok(()),
                false => Err(StoreError::MissingReference),
            },
        )
        .await
        .map_err(|error| match error {
            IdentityError::Store(StoreError::MissingReference) => {
                IdentityError::NotFound("membership")
            }
            other => other,
        })
    }

    /// Members of a group: direct ones, or with `effective` also those of
    /// every group nested below it.
    ///
    /// # Errors
    /// Unknown group or a database failure.
    pub async fn members(
        &self,
        group: GroupId,
        effective: bool,
    ) -> Result<Vec<User>, IdentityError> {
        self.group(group).await?;
        let mut conn = self.store.conn().await?;
        Ok(store::groups::members(&mut conn, group, effective).await?)
    }

    /// Groups of a user: direct ones, or with `effective` also every group
    /// above them.
    ///
    /// # Errors
    /// Unknown user or a database failure.
    pub async fn groups_of(
        &self,
        user: UserId,
        effective: bool,
    ) -> Result<Vec<Group>, IdentityError> {
        self.user(user).await?;
        let mut conn = self.store.conn().await?;
        Ok(store::groups::groups_of(&mut conn, user, effective).await?)
    }

    /// Whether a user is an active effective member of the admin group.
    ///
    /// # Errors
    /// A database failure.
    pub async fn is_admin(&self, user: &User) -> Result<bool, IdentityError> {
        if !user.active {
            return Ok(false);
        }
        let mut conn = self.store.conn().await?;
        let groups = store::groups::groups_of(&mut conn, user.id, true).await?;
        Ok(groups.iter().any(is_admin_group))
    }
}

impl Directory {
    /// Refuses a change that would leave no active admin: deactivating,
    /// deleting or removing from the admin group the only one left. An
    /// instance without an admin can only be recovered from the host.
    pub(crate) async fn keep_an_admin(&self, user: UserId) -> Result<(), IdentityError> {
        let Some(group) = self.group_named(ADMIN_GROUP).await? else {
            return Ok(());
        };
        let admins: Vec<User> = self
            .members(group.id, true)
            .await?
            .into_iter()
            .filter(|admin| admin.active)
            .collect();
        if admins.len() == 1 && admins[0].id == user {
            return Err(IdentityError::invalid(
                "user",
                "this is the last active admin; make another user an admin first",
            ));
        }
        Ok(())
    }
}

fn member_not_found(error: IdentityError) -> IdentityError {
    match error {
        // The group or user went away between the check and the write.
        IdentityError::Store(StoreError::MissingReference) => {
            IdentityError::NotFound("group or user")
        }
        other => other,
    }
}

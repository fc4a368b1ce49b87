//! The values of the SCIM and group methods of [`super::Store`]: stored users and groups,
//! their writes, member changes, list queries, and the group mapping.

use time::OffsetDateTime;

use crate::domain::{Permissions, UserId};

use super::UserActivation;

/// A SCIM-provisioned user as stored: the resource (without `id` and `meta`) and its
/// bookkeeping. The SCIM id is the Keymint user id.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimUserRecord {
    /// The Keymint user (and SCIM) id.
    pub user_id: UserId,
    /// The resource as last written.
    pub resource: serde_json::Value,
    /// Grows with every write (`meta.version`).
    pub version: i64,
    /// First provisioned.
    pub created_at: OffsetDateTime,
    /// Last written.
    pub updated_at: OffsetDateTime,
}

/// A SCIM create or replace, applied in one transaction with its user-lifecycle effect.
#[derive(Debug, Clone)]
pub struct ScimWrite {
    /// Profile and current permissions of the user.
    pub upsert: crate::domain::UserUpsert,
    /// `active`: false deactivates (every key disabled), true reactivates.
    pub active: bool,
    /// `userName`.
    pub user_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// The resource to store.
    pub resource: serde_json::Value,
    /// Create (`Conflict` if the SCIM resource exists) or replace (`NotFound` if not).
    pub create: bool,
    /// On replace: applies only while the resource is still at this version (a PATCH
    /// read it there); `Stale` otherwise.
    pub expected_version: Option<i64>,
}

/// What a SCIM write did: the stored resource, and the user events it applied.
#[derive(Debug, Clone)]
pub struct ScimOutcome {
    /// The resource as stored.
    pub record: ScimUserRecord,
    /// The user-lifecycle effects (upsert, and a deactivation or reactivation).
    pub effects: Vec<UserActivation>,
}

/// A page of `GET /Users`: a SQL condition built by the SCIM filter translation (only
/// whitelisted columns and numbered placeholders `$3`...) and its bound values.
#[derive(Debug, Clone, Default)]
pub struct ScimQuery {
    /// The condition, or `None` for every resource.
    pub condition: Option<String>,
    /// Its values, for `$3`, `$4`, ...
    pub params: Vec<String>,
    /// Resources to skip (`startIndex - 1`).
    pub offset: i64,
    /// Resources to return.
    pub limit: i64,
}

/// A SCIM group as stored: its attributes (without `id`, `meta` and `members`), its
/// members when asked for, and its bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimGroupRecord {
    /// Assigned by Keymint on create.
    pub id: String,
    /// `displayName`: also the name the group's permissions are mapped under.
    pub display_name: String,
    /// The attributes as last written.
    pub resource: serde_json::Value,
    /// The members in id order (empty unless asked for).
    pub members: Vec<UserId>,
    /// Grows with every write (`meta.version`).
    pub version: i64,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last written.
    pub updated_at: OffsetDateTime,
}

/// How a write changes a group's members: a new whole set, or additions and removals.
/// Operations collapse in order (a later add undoes an earlier remove of the same user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChange {
    /// The members from now on, replacing all (PUT, `replace` of `members`).
    pub replace: Option<std::collections::BTreeSet<UserId>>,
    /// Added to the members.
    pub add: std::collections::BTreeSet<UserId>,
    /// Removed from the members.
    pub remove: std::collections::BTreeSet<UserId>,
}

impl MemberChange {
    /// A change to exactly `members`.
    pub fn replace_with(members: impl IntoIterator<Item = UserId>) -> Self {
        Self {
            replace: Some(members.into_iter().collect()),
            ..Self::default()
        }
    }

    /// Adds `user` after what came before.
    pub fn add(&mut self, user: UserId) {
        self.remove.remove(&user);
        match &mut self.replace {
            Some(all) => {
                all.insert(user);
            }
            None => {
                self.add.insert(user);
            }
        }
    }

    /// Removes `user` after what came before.
    pub fn remove(&mut self, user: UserId) {
        self.add.remove(&user);
        match &mut self.replace {
            Some(all) => {
                all.remove(&user);
            }
            None => {
                self.remove.insert(user);
            }
        }
    }

    /// Removes every member, then whatever follows.
    pub fn clear(&mut self) {
        *self = Self::replace_with([]);
    }

    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.replace.is_none() && self.add.is_empty() && self.remove.is_empty()
    }

    /// Every user a change names.
    pub fn named(&self) -> impl Iterator<Item = &UserId> {
        self.replace
            .iter()
            .flatten()
            .chain(&self.add)
            .chain(&self.remove)
    }
}

/// A SCIM group create or replace, applied in one transaction with its members and the
/// recomputed permissions of every user whose groups it changes.
#[derive(Debug, Clone)]
pub struct ScimGroupWrite {
    /// The group (a new id on create).
    pub id: String,
    /// `displayName`.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The attributes to store (without `members`).
    pub resource: serde_json::Value,
    /// The members' change.
    pub members: MemberChange,
    /// Create (`Conflict` if the name is taken) or replace (`NotFound` if none).
    pub create: bool,
    /// On replace: applies only while the group is still at this version; `Stale`
    /// otherwise.
    pub expected_version: Option<i64>,
}

/// The permissions ops map to a group name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    /// The group's displayName as ops wrote it (matched case-insensitively).
    pub name: String,
    /// What members of that group hold.
    pub permissions: Permissions,
    /// Last set.
    pub updated_at: OffsetDateTime,
}

//! Group mappings in GraphQL, for `admin` callers: `groupPermissions` lists them,
//! `setGroupPermissions` sets what members of a directory group hold (the same use case
//! as `keymint groups set-permissions`).

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};

use super::RequestContext;
use super::errors::{bad_input, forbidden, from_manage};
use super::mutation::management;
use crate::clock::rfc3339;
use crate::domain::Permissions;
use crate::store::GroupMapping;

/// What members of a group (by its SCIM displayName, case-insensitive) hold.
#[derive(SimpleObject)]
pub struct GroupMappingNode {
    /// The group's name as set.
    pub group: String,
    /// The permissions its members hold now.
    pub permissions: Vec<String>,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<GroupMapping> for GroupMappingNode {
    fn from(m: GroupMapping) -> Self {
        Self {
            group: m.name,
            permissions: m.permissions.iter().map(str::to_owned).collect(),
            updated_at: rfc3339(m.updated_at),
        }
    }
}

/// Input of `setGroupPermissions`.
#[derive(InputObject)]
pub struct GroupPermissionsInput {
    /// The group's name (SCIM displayName).
    pub group: String,
    /// What its members hold; empty removes the mapping.
    pub permissions: Vec<String>,
}

/// Answer of `setGroupPermissions`.
#[derive(SimpleObject)]
pub struct GroupPermissionsPayload {
    /// The mapping now (null when removed).
    pub mapping: Option<GroupMappingNode>,
    /// Users whose current permissions changed.
    pub users_changed: u64,
}

fn admin(rc: &RequestContext) -> Result<&super::Caller> {
    let caller = rc.caller.as_ref().map_err(|e| e.to_graphql())?;
    if !caller.is_admin() {
        return Err(forbidden("group mappings require the admin permission"));
    }
    Ok(caller)
}

#[derive(Default)]
pub struct GroupQuery;

#[Object]
impl GroupQuery {
    /// Every group mapping, by name. Requires `admin`.
    async fn group_permissions(&self, ctx: &Context<'_>) -> Result<Vec<GroupMappingNode>> {
        let rc = ctx.data::<RequestContext>()?;
        admin(rc)?;
        let mappings = rc
            .state
            .management
            .group_mappings()
            .await
            .map_err(from_manage)?;
        Ok(mappings.into_iter().map(GroupMappingNode::from).collect())
    }
}

#[derive(Default)]
pub struct GroupMutation;

#[Object]
impl GroupMutation {
    /// Sets what members of a group hold now (their keys keep their frozen permissions).
    /// Requires `admin`, and only permissions the caller holds can be mapped (no
    /// escalation through a group the caller is in); `keymint groups set-permissions`,
    /// run by ops with the database's credentials, maps anything.
    async fn set_group_permissions(
        &self,
        ctx: &Context<'_>,
        input: GroupPermissionsInput,
    ) -> Result<GroupPermissionsPayload> {
        let rc = ctx.data::<RequestContext>()?;
        let caller = admin(rc)?;
        let permissions =
            Permissions::parse(&input.permissions).map_err(|e| bad_input(e.to_string()))?;
        caller
            .grant(Some(permissions.clone()))
            .map_err(super::mutation::refused)?;
        let manage = management(rc, caller);
        let users_changed = manage
            .set_group_permissions(&input.group, &permissions)
            .await
            .map_err(from_manage)?;
        let key = input.group.trim().to_lowercase();
        let mapping = manage
            .group_mappings()
            .await
            .map_err(from_manage)?
            .into_iter()
            .find(|m| m.name.to_lowercase() == key)
            .map(GroupMappingNode::from);
        Ok(GroupPermissionsPayload {
            mapping,
            users_changed,
        })
    }
}

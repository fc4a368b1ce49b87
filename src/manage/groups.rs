//! Group use cases: a directory's create, replace, patch and delete of a SCIM group, and
//! the mapping from group names to permissions that ops keep (CLI, GraphQL). Each runs in
//! one store transaction that also recomputes the permissions of the members concerned.
//! Nothing is cached from these: a user's current permissions are read per request.

use super::{ManageError, Management};
use crate::domain::Permissions;
use crate::store::{GroupMapping, ScimGroupRecord, ScimGroupWrite};

/// Longest group name accepted in a mapping (as SCIM `displayName`).
const MAX_GROUP_NAME: usize = 255;

impl Management {
    /// Creates or replaces a SCIM group (see [`crate::store::Store::scim_group_write`]).
    pub async fn scim_group_write(
        &self,
        write: &ScimGroupWrite,
    ) -> Result<ScimGroupRecord, ManageError> {
        let record = self
            .store
            .scim_group_write(write, &self.write_context())
            .await?;
        tracing::info!(group = %record.id, created = write.create, "scim group written");
        Ok(record)
    }

    /// Deletes a SCIM group; its members leave it.
    pub async fn scim_group_delete(&self, id: &str) -> Result<(), ManageError> {
        self.store
            .scim_group_delete(id, &self.write_context())
            .await?;
        tracing::info!(group = %id, "scim group deleted");
        Ok(())
    }

    /// Sets what members of groups named `name` hold (none: the mapping is removed);
    /// gives how many users' current permissions changed.
    pub async fn set_group_permissions(
        &self,
        name: &str,
        permissions: &Permissions,
    ) -> Result<u64, ManageError> {
        let name = name.trim();
        if name.is_empty() || name.len() > MAX_GROUP_NAME || name.chars().any(char::is_control) {
            return Err(ManageError::InvalidInput(
                "a group name is 1 to 255 characters without control characters".to_owned(),
            ));
        }
        let changed = self
            .store
            .set_group_permissions(name, permissions, &self.write_context())
            .await?;
        tracing::info!(group = name, permissions = %permissions.to_scope(), users_changed = changed, source = self.actor.source.as_str(), "group permissions set");
        Ok(changed)
    }

    /// Every group mapping, by name.
    pub async fn group_mappings(&self) -> Result<Vec<GroupMapping>, ManageError> {
        Ok(self.store.group_mappings().await?)
    }
}

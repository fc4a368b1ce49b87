//! User use cases: mirror the directory's profile, deactivate, reactivate.

use super::{ManageError, Management, new_etag};
use crate::domain::{User, UserId, UserUpsert};
use crate::store::UserActivation;

impl Management {
    /// Creates or updates a user. Existing keys keep their frozen permissions.
    pub async fn upsert_user(&self, user: &UserUpsert) -> Result<User, ManageError> {
        let user = self.store.upsert_user(user, self.clock.now()).await?;
        tracing::info!(user = %user.id, "user upserted");
        Ok(user)
    }

    /// Deactivates a user and disables all of its keys in one transaction.
    pub async fn deactivate_user(&self, id: &UserId) -> Result<UserActivation, ManageError> {
        let result = self
            .store
            .set_user_active(id, false, &new_etag(), self.clock.now())
            .await?;
        tracing::info!(user = %id, keys_disabled = result.disabled_keys.len(), "user deactivated");
        Ok(result)
    }

    /// Reactivates a user; keys disabled by the deactivation stay disabled.
    pub async fn reactivate_user(&self, id: &UserId) -> Result<User, ManageError> {
        let result = self
            .store
            .set_user_active(id, true, &new_etag(), self.clock.now())
            .await?;
        tracing::info!(user = %id, "user reactivated");
        Ok(result.user)
    }
}

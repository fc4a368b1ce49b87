//! SCIM use cases: a directory's create or replace of a user (with its activation), and
//! its delete. The store applies each in one transaction; this process learns of the
//! disabled keys at once, every other instance from the change feed.

use super::{ManageError, Management};
use crate::changes::Change;
use crate::domain::UserId;
use crate::store::{ScimOutcome, ScimWrite, UserActivation};

impl Management {
    /// Creates or replaces a SCIM user (see [`crate::store::Store::scim_write`]).
    pub async fn scim_write(&self, write: &ScimWrite) -> Result<ScimOutcome, ManageError> {
        let outcome = self.store.scim_write(write, &self.write_context()).await?;
        for effect in &outcome.effects {
            self.publish_activation(effect);
        }
        tracing::info!(user = %write.upsert.id, active = write.active, created = write.create, "scim user written");
        Ok(outcome)
    }

    /// Deletes a SCIM user: deactivated, every key disabled; the user record stays.
    pub async fn scim_delete(&self, id: &UserId) -> Result<UserActivation, ManageError> {
        let applied = self.store.scim_delete(id, &self.write_context()).await?;
        self.publish_activation(&applied);
        tracing::info!(user = %id, keys_disabled = applied.disabled_keys.len(), "scim user deleted");
        Ok(applied)
    }

    fn publish_activation(&self, applied: &UserActivation) {
        for key in &applied.disabled_keys {
            self.publish(Change::Key(key.client_id.clone()));
        }
        self.publish(Change::User(applied.user.id.clone()));
    }
}

//! User use cases: apply directory events (upsert, deactivate, reactivate). The CLI, the
//! webhook and the PostgreSQL table all come through here.

use super::{ManageError, Management};
use crate::changes::Change;
use crate::domain::{User, UserEvent, UserId, UserUpsert};
use crate::store::{Dedupe, EventOutcome, UserActivation};

impl Management {
    /// Applies a user event in one transaction (see [`crate::store::Store::apply_user_event`]).
    pub async fn apply_user_event(
        &self,
        event: &UserEvent,
        dedupe: &Dedupe,
        occurred_at: Option<time::OffsetDateTime>,
    ) -> Result<EventOutcome, ManageError> {
        let outcome = self
            .store
            .apply_user_event(event, dedupe, occurred_at, &self.write_context())
            .await?;
        if let EventOutcome::Applied(result) = &outcome {
            for key in &result.disabled_keys {
                self.publish(Change::Key(key.client_id.clone()));
            }
            self.publish(Change::User(result.user.id.clone()));
            tracing::info!(user = %result.user.id, event = event.type_name(), keys_disabled = result.disabled_keys.len(), source = self.actor.source.as_str(), "user event applied");
        }
        Ok(outcome)
    }

    /// Creates or updates a user. Existing keys keep their frozen permissions.
    pub async fn upsert_user(&self, user: &UserUpsert) -> Result<User, ManageError> {
        for (given, meant) in user.permissions.near_misses() {
            tracing::warn!(user = %user.id, permission = given, built_in = meant, "permission differs from a built-in one only by case; Keymint matches permissions exactly and will not act on it");
        }
        Ok(self.apply(UserEvent::Upserted(user.clone())).await?.user)
    }

    /// Creates a user whose id is not taken; `Conflict` (and nothing changed) when it is,
    /// decided in the writing transaction.
    pub async fn create_user(&self, user: &UserUpsert) -> Result<User, ManageError> {
        let event = UserEvent::Upserted(user.clone());
        match self
            .apply_user_event(&event, &Dedupe::NewUser, None)
            .await?
        {
            EventOutcome::Applied(result) => Ok(result.user),
            EventOutcome::Duplicate | EventOutcome::Stale => Err(ManageError::Conflict),
        }
    }

    /// Deactivates a user and disables all of its keys in one transaction.
    pub async fn deactivate_user(&self, id: &UserId) -> Result<UserActivation, ManageError> {
        self.apply(UserEvent::Deactivated(id.clone())).await
    }

    /// Reactivates a user; keys disabled by the deactivation stay disabled.
    pub async fn reactivate_user(&self, id: &UserId) -> Result<User, ManageError> {
        Ok(self.apply(UserEvent::Reactivated(id.clone())).await?.user)
    }

    async fn apply(&self, event: UserEvent) -> Result<UserActivation, ManageError> {
        match self.apply_user_event(&event, &Dedupe::None, None).await? {
            EventOutcome::Applied(result) => Ok(result),
            // Without a de-duplication id or an event time every event applies.
            EventOutcome::Duplicate | EventOutcome::Stale => Err(ManageError::Conflict),
        }
    }
}

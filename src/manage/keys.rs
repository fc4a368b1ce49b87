//! Key use cases: create, enable/disable, rotate the secret, delete.

use time::OffsetDateTime;

use super::{ManageError, Management};
use crate::changes::Change;
use crate::domain::{ApiKey, ClientId, DisabledReason, EnvironmentName, Permissions, UserId};
use crate::secrets::{ClientSecret, new_client_id, new_client_secret, random_token};
use crate::store::{KeyChange, KeyUpdate, NewApiKey};

/// Longest key name accepted.
const MAX_NAME_LEN: usize = 200;

/// What to create.
#[derive(Debug, Clone)]
pub struct CreateKey {
    /// Owner.
    pub owner_id: UserId,
    /// Environment.
    pub environment: EnvironmentName,
    /// Narrower permissions; `None` takes all of the owner's.
    pub permissions: Option<Permissions>,
    /// Label.
    pub name: Option<String>,
    /// Expiry, which must be in the future.
    pub expires_at: Option<OffsetDateTime>,
}

/// A new key with its secret, shown once.
#[derive(Debug)]
pub struct CreatedKey {
    /// The key.
    pub key: ApiKey,
    /// The clear-text secret; not stored anywhere.
    pub secret: ClientSecret,
}

impl Management {
    /// Creates a key holding the owner's current permissions (or the narrower set asked for).
    pub async fn create_key(&self, req: CreateKey) -> Result<CreatedKey, ManageError> {
        let ctx = self.write_context();
        let now = ctx.now;
        if let Some(name) = &req.name
            && (name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control))
        {
            return Err(ManageError::InvalidInput(format!(
                "name must be at most {MAX_NAME_LEN} characters without control characters"
            )));
        }
        if req.expires_at.is_some_and(|at| at <= now) {
            return Err(ManageError::InvalidInput(
                "expiresAt must be in the future".into(),
            ));
        }
        let secret = new_client_secret();
        let secret_hash = self.hasher.hash(&secret).await?;
        let key = self
            .store
            .create_key(
                &NewApiKey {
                    id: format!("key_{}", random_token(16)),
                    client_id: new_client_id(),
                    secret_hash,
                    environment: req.environment,
                    owner_id: req.owner_id,
                    requested: req.permissions,
                    name: req.name,
                    expires_at: req.expires_at,
                },
                &ctx,
            )
            .await?;
        self.publish(Change::Key(key.client_id.clone()));
        tracing::info!(client_id = %key.client_id, env = %key.environment, owner = %key.owner_id, "api key created");
        Ok(CreatedKey { key, secret })
    }

    /// Enables or disables a key. Enabling is refused while the owner is inactive.
    pub async fn set_key_enabled(
        &self,
        client_id: &ClientId,
        enabled: bool,
        expected_etag: Option<String>,
    ) -> Result<ApiKey, ManageError> {
        let change = if enabled {
            KeyChange::Enable
        } else {
            KeyChange::Disable(DisabledReason::Manual)
        };
        let key = self.update(client_id, change, expected_etag).await?;
        tracing::info!(client_id = %key.client_id, enabled, "api key updated");
        Ok(key)
    }

    /// Replaces the key's secret; the old one stops working at once.
    pub async fn rotate_secret(
        &self,
        client_id: &ClientId,
        expected_etag: Option<String>,
    ) -> Result<CreatedKey, ManageError> {
        let secret = new_client_secret();
        let hash = self.hasher.hash(&secret).await?;
        let key = self
            .update(client_id, KeyChange::ReplaceSecret(hash), expected_etag)
            .await?;
        tracing::info!(client_id = %key.client_id, "api key secret regenerated");
        Ok(CreatedKey { key, secret })
    }

    /// Deletes a key.
    pub async fn delete_key(
        &self,
        client_id: &ClientId,
        expected_etag: Option<&str>,
    ) -> Result<ApiKey, ManageError> {
        let key = self
            .store
            .delete_key(client_id, expected_etag, &self.write_context())
            .await?;
        self.publish(Change::Key(key.client_id.clone()));
        tracing::info!(client_id = %key.client_id, "api key deleted");
        Ok(key)
    }

    async fn update(
        &self,
        client_id: &ClientId,
        change: KeyChange,
        expected_etag: Option<String>,
    ) -> Result<ApiKey, ManageError> {
        let update = KeyUpdate {
            change,
            expected_etag,
        };
        let key = self
            .store
            .update_key(client_id, &update, &self.write_context())
            .await?;
        self.publish(Change::Key(key.client_id.clone()));
        Ok(key)
    }
}

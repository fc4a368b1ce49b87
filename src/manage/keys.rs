//! Key use cases: create, enable/disable, rotate the secret, delete.

use time::OffsetDateTime;

use super::{ManageError, Management};
use crate::changes::Change;
use crate::domain::{
    AllowedIps, ApiKey, ClientId, DisabledReason, EnvironmentName, KeyAuth, Permissions, UserId,
};
use crate::secrets::{ClientSecret, new_client_id, new_client_secret, random_token};
use crate::store::{Activation, KeyEdit, KeyUpdate, NewApiKey, NewSecret};

/// Longest grace period for the previous secret after a rotation (one day).
pub const MAX_GRACE_SECS: i64 = 86_400;

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
    /// How its clients authenticate: [`KeyAuth::Secret`] (a secret is generated and shown
    /// once) or their own public keys (checked by the caller with
    /// [`crate::domain::parse_client_jwks`] or [`crate::domain::check_jwks_url`]).
    pub auth: KeyAuth,
    /// The networks its token requests may come from (empty: any).
    pub allowed_ips: AllowedIps,
}

/// Changes asked for in one update.
#[derive(Debug, Clone, Default)]
pub struct KeyChangeRequest {
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Generate a new secret. Without a grace period the old one stops working at once;
    /// with one (at most [`MAX_GRACE_SECS`]) it keeps working until the period ends, so
    /// clients can switch without downtime.
    pub regenerate_secret: bool,
    /// Grace period of the old secret.
    pub grace: Option<time::Duration>,
    /// New name or expiry. An expiry must be in the future, and an expired key keeps its
    /// own: a new key is the way back.
    pub edit: KeyEdit,
}

/// A key after an update, with its new secret if one was generated (shown once).
#[derive(Debug)]
pub struct UpdatedKey {
    /// The key.
    pub key: ApiKey,
    /// The new secret, when regenerated.
    pub secret: Option<ClientSecret>,
}

/// A new key with its secret, shown once.
#[derive(Debug)]
pub struct CreatedKey {
    /// The key.
    pub key: ApiKey,
    /// The clear-text secret, not stored anywhere; `None` for a key whose clients sign
    /// with their own keys.
    pub secret: Option<ClientSecret>,
}

fn check_name(name: Option<&str>) -> Result<(), ManageError> {
    match name {
        Some(name) if name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control) => {
            Err(ManageError::InvalidInput(format!(
                "name must be at most {MAX_NAME_LEN} characters without control characters"
            )))
        }
        _ => Ok(()),
    }
}

fn check_expiry(
    expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<(), ManageError> {
    if expires_at.is_some_and(|at| at <= now) {
        return Err(ManageError::InvalidInput(
            "expiresAt must be in the future".into(),
        ));
    }
    Ok(())
}

impl Management {
    /// Creates a key holding the owner's current permissions (or the narrower set asked for).
    pub async fn create_key(&self, req: CreateKey) -> Result<CreatedKey, ManageError> {
        let ctx = self.write_context();
        check_name(req.name.as_deref())?;
        check_expiry(req.expires_at, ctx.now)?;
        // A key without a secret stores an empty hash, which no secret matches (and the
        // secret path refuses such keys before comparing anything).
        let (secret, stored) = if req.auth.has_secret() {
            let secret = new_client_secret();
            let stored = self.hasher.stored(&secret).await?;
            (Some(secret), stored)
        } else {
            let none = crate::domain::StoredSecret {
                hash: String::new(),
                check: None,
            };
            (None, none)
        };
        let key = self
            .store
            .create_key(
                &NewApiKey {
                    id: format!("key_{}", random_token(16)),
                    client_id: new_client_id(),
                    secret: stored,
                    environment: req.environment,
                    owner_id: req.owner_id,
                    requested: req.permissions,
                    name: req.name,
                    expires_at: req.expires_at,
                    secret_hint: secret.as_ref().map(ClientSecret::hint),
                    auth: req.auth,
                    allowed_ips: req.allowed_ips,
                },
                &ctx,
            )
            .await?;
        self.publish(Change::Key(key.client_id.clone()));
        tracing::info!(client_id = %key.client_id, env = %key.environment, owner = %key.owner_id, auth = key.auth.token_endpoint_auth_method(), "api key created");
        Ok(CreatedKey { key, secret })
    }

    /// Enables or disables a key. Enabling is refused while the owner is inactive.
    pub async fn set_key_enabled(
        &self,
        client_id: &ClientId,
        enabled: bool,
        expected_etag: Option<String>,
    ) -> Result<ApiKey, ManageError> {
        let change = KeyChangeRequest {
            enabled: Some(enabled),
            ..Default::default()
        };
        Ok(self.update_key(client_id, change, expected_etag).await?.key)
    }

    /// Replaces the key's secret (see [`KeyChangeRequest::regenerate_secret`]).
    pub async fn rotate_secret(
        &self,
        client_id: &ClientId,
        expected_etag: Option<String>,
        grace: Option<time::Duration>,
    ) -> Result<CreatedKey, ManageError> {
        let change = KeyChangeRequest {
            regenerate_secret: true,
            grace,
            ..Default::default()
        };
        let updated = self.update_key(client_id, change, expected_etag).await?;
        Ok(CreatedKey {
            key: updated.key,
            secret: updated.secret,
        })
    }

    /// Applies the requested changes to a key in one transaction.
    pub async fn update_key(
        &self,
        client_id: &ClientId,
        change: KeyChangeRequest,
        expected_etag: Option<String>,
    ) -> Result<UpdatedKey, ManageError> {
        if change.grace.is_some() && !change.regenerate_secret {
            return Err(ManageError::InvalidInput(
                "secretGracePeriodSeconds needs regenerateSecret".into(),
            ));
        }
        if change
            .grace
            .is_some_and(|g| g.is_negative() || g > time::Duration::seconds(MAX_GRACE_SECS))
        {
            return Err(ManageError::InvalidInput(format!(
                "secretGracePeriodSeconds must be between 0 and {MAX_GRACE_SECS}"
            )));
        }
        if let Some(name) = &change.edit.name {
            check_name(name.as_deref())?;
        }
        if let Some(expires_at) = change.edit.expires_at {
            check_expiry(expires_at, self.clock.now())?;
        }
        let activation = change.enabled.map(|enabled| {
            if enabled {
                Activation::Enable
            } else {
                Activation::Disable(DisabledReason::Manual)
            }
        });
        let mut secret = None;
        let mut new_secret = None;
        if change.regenerate_secret {
            let fresh = new_client_secret();
            let stored = self.hasher.stored(&fresh).await?;
            let grace_until = change
                .grace
                .filter(|g| g.is_positive())
                .map(|g| self.clock.now() + g);
            new_secret = Some(NewSecret {
                secret: stored,
                grace_until,
                hint: fresh.hint(),
            });
            secret = Some(fresh);
        }
        let update = KeyUpdate {
            activation,
            secret: new_secret,
            edit: change.edit.clone(),
            expected_etag,
        };
        let key = self
            .store
            .update_key(client_id, &update, &self.write_context())
            .await?;
        self.publish(Change::Key(key.client_id.clone()));
        tracing::info!(
            client_id = %key.client_id,
            enabled = ?change.enabled,
            secret_regenerated = change.regenerate_secret,
            grace_seconds = change.grace.map_or(0, |g| g.whole_seconds()),
            renamed = change.edit.name.is_some(),
            expiry_changed = change.edit.expires_at.is_some(),
            source = self.actor.source.as_str(),
            "api key updated"
        );
        Ok(UpdatedKey { key, secret })
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
}

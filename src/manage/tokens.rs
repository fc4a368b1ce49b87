//! Token and signing-key use cases an operator performs: revoking one access token,
//! recording a new signing key.

use super::{ManageError, Management};
use crate::domain::EnvironmentName;
use crate::store::TokenRevocation;

impl Management {
    /// Revokes one access token (and records who did). `Ok(false)`: it already was.
    pub async fn revoke_token(&self, token: &TokenRevocation) -> Result<bool, ManageError> {
        let newly = self
            .store
            .revoke_token(token, &self.write_context())
            .await?;
        tracing::info!(env = %token.environment, jti = %token.jti, newly, source = self.actor.source.as_str(), "token revoked");
        Ok(newly)
    }

    /// Records that signing key `kid` was created for `environment`.
    pub async fn signing_key_created(
        &self,
        environment: &EnvironmentName,
        kid: &str,
    ) -> Result<(), ManageError> {
        self.store
            .audit_signing_key_created(environment, kid, &self.write_context())
            .await?;
        Ok(())
    }
}

//! Revoking one access token, by `jti`, as an operator.

use super::{ManageError, Management};
use crate::domain::ClientId;
use crate::store::TokenRevocation;

impl Management {
    /// Revokes one access token (and records who did). `Ok(false)`: it already was.
    pub async fn revoke_token(&self, token: &TokenRevocation) -> Result<bool, ManageError> {
        let newly = self
            .store
            .revoke_token(token, &self.write_context())
            .await?;
        self.publish(crate::changes::Change::Token(token.jti.clone()));
        let client_id = token.client_id.as_ref().map(ClientId::as_str);
        tracing::info!(env = %token.environment, jti = %token.jti, client_id, newly, source = self.actor.source.as_str(), "token revoked");
        Ok(newly)
    }
}

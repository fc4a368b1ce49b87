//! What the OAuth endpoints share, built once at start-up: handlers take
//! `State<Arc<OAuthState>>` and never see the rest of the application.

use std::sync::Arc;

use super::{
    Authenticated, Authenticator, OAuthRequest, TokenChecker, TokenError, TokenQuota, UsageTracker,
};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::EnvironmentName;
use crate::metrics::RequestMetrics;
use crate::random::Random;
use crate::signing::{EnvironmentKeys, KeyRing};
use crate::store::Store;
use crate::web::SourceAddress;

/// The token, introspection, revocation and discovery endpoints' collaborators.
pub struct OAuthState {
    /// Configuration (environments, issuer, audiences, TTL).
    pub config: Arc<Config>,
    /// Signing keys.
    pub keys: Arc<KeyRing>,
    /// Persistence (revocations).
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Token ids.
    pub random: Arc<dyn Random>,
    /// Client authentication.
    pub authenticator: Authenticator,
    /// Checks of Keymint's own access tokens.
    pub tokens: Arc<TokenChecker>,
    /// Per-key token quotas.
    pub quota: Arc<TokenQuota>,
    /// Per-key revocation quotas ([`super::revoke::REVOCATIONS_PER_MINUTE`]): each
    /// revocation is a change every instance applies.
    pub revocation_quota: Arc<TokenQuota>,
    /// Where successful uses are noted for `lastUsedAt`.
    pub usage: Arc<UsageTracker>,
    /// Token outcomes.
    pub requests: Arc<RequestMetrics>,
}

impl OAuthState {
    /// The signing keys of `environment`; without them no endpoint of it can answer.
    pub fn keys_of(
        &self,
        environment: &EnvironmentName,
    ) -> Result<Arc<EnvironmentKeys>, TokenError> {
        self.keys
            .get(environment)
            .ok_or(TokenError::TemporarilyUnavailable)
    }

    /// Authenticates the client of an introspection or revocation request.
    pub async fn authenticate(
        &self,
        request: &OAuthRequest,
        source: SourceAddress,
    ) -> Result<Authenticated, TokenError> {
        let credentials = request.credentials()?;
        self.keys_of(&request.environment)?;
        self.authenticator
            .authenticate(&request.environment, &credentials, source.0)
            .await
    }
}

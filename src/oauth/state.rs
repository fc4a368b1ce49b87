//! What the OAuth endpoints share, built once at start-up ([`OAuthState::build`]):
//! handlers take `State<Arc<OAuthState>>` and never see the rest of the application.
//! Building it also subscribes its caches to the change feed, each in its tier.

use std::sync::Arc;

use super::TokenError;
use super::client_auth::{
    AddressRefusals, AssertionAuthenticator, AuthLimiter, Authenticated, ClientAuth,
    SecretAuthenticator, VerifiedCache,
};
use super::grant::{TokenQuota, UsageTracker};
use super::request::OAuthRequest;
use super::tokens::{KeyStates, REVOCATIONS_PER_MINUTE, RevocationList, TokenCache, TokenChecker};
use crate::changes::{ChangeFeed, Tier};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::EnvironmentName;
use crate::manage::Management;
use crate::metrics::RequestMetrics;
use crate::random::Random;
use crate::secrets::SecretHasher;
use crate::signing::{EnvironmentKeys, KeyRing};
use crate::store::{Store, StoreError};
use crate::web::SourceAddress;

/// The collaborators the OAuth endpoints are built from, shared with the rest of the
/// application.
pub struct OAuthParts {
    /// Configuration.
    pub config: Arc<Config>,
    /// Signing keys.
    pub keys: Arc<KeyRing>,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Token ids.
    pub random: Arc<dyn Random>,
    /// argon2id pool.
    pub hasher: Arc<SecretHasher>,
    /// The change feed every cache follows.
    pub changes: Arc<ChangeFeed>,
    /// The use cases (revocation is one).
    pub management: Management,
    /// Token outcomes.
    pub requests: Arc<RequestMetrics>,
}

/// The token, introspection, revocation and discovery endpoints' collaborators.
pub struct OAuthState {
    /// Configuration (environments, issuer, audiences, TTL).
    pub config: Arc<Config>,
    /// Signing keys.
    pub keys: Arc<KeyRing>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Token ids.
    pub random: Arc<dyn Random>,
    /// Client authentication.
    pub client_auth: ClientAuth,
    /// Checks of Keymint's own access tokens.
    pub tokens: Arc<TokenChecker>,
    /// Per-key token quotas.
    pub quota: Arc<TokenQuota>,
    /// Per-key revocation quotas ([`REVOCATIONS_PER_MINUTE`]): each revocation is a
    /// change every instance applies.
    pub revocation_quota: Arc<TokenQuota>,
    /// Where successful uses are noted for `lastUsedAt`.
    pub usage: Arc<UsageTracker>,
    /// Token outcomes.
    pub requests: Arc<RequestMetrics>,
    /// The use cases, acting as the OAuth endpoints (revocation).
    pub management: Management,
}

impl OAuthState {
    /// Builds the endpoints' state and subscribes its caches to the change feed: the
    /// revocation list as a source, key states as held, the verified-secret and token
    /// caches as derived ([`Tier`]). Reads the unexpired revocations.
    pub async fn build(parts: OAuthParts) -> Result<Arc<Self>, StoreError> {
        let OAuthParts {
            config,
            keys,
            store,
            clock,
            random,
            hasher,
            changes,
            management,
            requests,
        } = parts;
        let perf = &config.performance;
        let cache = Arc::new(VerifiedCache::new(perf.cache_capacity, perf.cache_ttl));
        let token_cache = Arc::new(TokenCache::new(perf.cache_capacity, perf.cache_ttl));
        let key_states = Arc::new(KeyStates::new(perf.cache_capacity, perf.cache_ttl));
        let revocations = Arc::new(RevocationList::new());
        let (followed, now) = (Arc::clone(&revocations), Arc::clone(&clock));
        changes.on_change(Tier::Source, move |change| {
            followed.on_change(change, now.now());
        });
        let held = Arc::clone(&key_states);
        changes.on_change(Tier::Held, move |change| held.invalidate(change));
        let derived = Arc::clone(&cache);
        changes.on_change(Tier::Derived, move |change| derived.invalidate(change));
        let derived = Arc::clone(&token_cache);
        changes.on_change(Tier::Derived, move |change| derived.invalidate(change));
        // Loaded after the caller took the feed position: a revocation committed meanwhile
        // arrives through the feed as well.
        revocations.load(store.as_ref(), clock.now()).await?;
        let tokens = Arc::new(TokenChecker {
            config: Arc::clone(&config),
            keys: Arc::clone(&keys),
            store: Arc::clone(&store),
            clock: Arc::clone(&clock),
            cache: token_cache,
            changes: Arc::clone(&changes),
            revocations,
            key_states: Arc::clone(&key_states),
        });
        // Keys without a secret are read through the same key cache as token checks.
        let assertions = AssertionAuthenticator::new(
            Arc::clone(&store),
            Arc::clone(&config),
            Arc::clone(&clock),
            key_states,
            Arc::clone(&changes),
        );
        let address_refusals = AddressRefusals::new(Arc::clone(&store), Arc::clone(&clock));
        let secrets = SecretAuthenticator {
            store,
            hasher,
            cache,
            limiter: Arc::new(AuthLimiter::default()),
            changes,
            clock: Arc::clone(&clock),
        };
        Ok(Arc::new(Self {
            quota: Arc::new(TokenQuota::new(perf.token_rate_limit)),
            revocation_quota: Arc::new(TokenQuota::new(Some(REVOCATIONS_PER_MINUTE))),
            config,
            keys,
            clock,
            random,
            client_auth: ClientAuth {
                secrets,
                assertions,
                address_refusals,
            },
            tokens,
            usage: Arc::new(UsageTracker::default()),
            requests,
            management,
        }))
    }

    /// The verified-secret cache.
    pub fn verified_cache(&self) -> &Arc<VerifiedCache> {
        &self.client_auth.secrets.cache
    }

    /// The failed-authentication limiter (the console's sign-in shares it).
    pub fn limiter(&self) -> &Arc<AuthLimiter> {
        &self.client_auth.secrets.limiter
    }

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
        self.client_auth
            .authenticate(&request.environment, &credentials, source.0)
            .await
    }
}

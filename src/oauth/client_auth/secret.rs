//! The secret methods (`client_secret_basic`, `client_secret_post`): the verified-secret
//! cache (warm), then one credentials lookup that decides every refusal (check tag, key
//! state) before argon2id runs for a right secret of a usable key; brute-force limits
//! judge failures only. Every failure answers the same `invalid_client`.

use std::net::IpAddr;
use std::sync::Arc;

use super::limits::{AuthLimiter, Verdict};
use super::{Authenticated, VerifiedCache};
use crate::changes::ChangeFeed;
use crate::clock::Clock;
use crate::domain::{
    ApiKey, ClientId, EnvironmentName, KeyCredentials, StoredSecret, secret_version,
};
use crate::oauth::{Limit, RefusalReason as Refusal, TokenError};
use crate::secrets::{self, ClientSecret, HashError, SecretHasher, check_tag};
use crate::store::Store;

/// Authenticates clients by secret in every environment; built once, shared by the
/// endpoints.
pub struct SecretAuthenticator {
    /// Key storage.
    pub store: Arc<dyn Store>,
    /// argon2id verification.
    pub hasher: Arc<SecretHasher>,
    /// Verified secrets and key states.
    pub cache: Arc<VerifiedCache>,
    /// Failed-authentication counters.
    pub limiter: Arc<AuthLimiter>,
    /// Key and user changes (for the cache's insert guard).
    pub changes: Arc<ChangeFeed>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

impl SecretAuthenticator {
    /// Authenticates a client of `environment`. Every failure answers the same
    /// `invalid_client`.
    ///
    /// Warm path: a cached verification of this exact secret answers without argon2 or the
    /// database. Cold path: one credentials lookup decides every refusal at once (unknown id,
    /// check-tag mismatch, or a key that is disabled, expired, of another environment or of
    /// an inactive owner), so all refusals take the same fast path; argon2id runs only for a
    /// right secret of a usable key. Brute-force limits then judge failures only.
    pub async fn authenticate(
        &self,
        environment: &EnvironmentName,
        client_id: &str,
        secret: &ClientSecret,
        source: Option<IpAddr>,
    ) -> Result<Authenticated, TokenError> {
        let now = self.clock.now();
        // Past KEYMINT_MAX_STALENESS without confirming the change feed, a cached
        // verification may predate a disable this instance has not heard of: the
        // database decides (and answers 503 when it cannot be reached).
        let hit = if self.changes.trusted() {
            self.cache.lookup(client_id, secret, now)
        } else {
            None
        };
        if let Some(hit) = hit {
            return match check_state(environment, &hit.key, hit.owner_active, now) {
                Ok(()) => Ok(Authenticated {
                    key: hit.key,
                    secret_version: Some(hit.secret_version),
                    status_index: hit.status_index,
                    template: Some(hit.template),
                }),
                Err(reason) => Err(refused(environment, &hit.key.client_id, reason)),
            };
        }
        let client_id = ClientId::new(client_id.to_owned());
        // Boxed: the cold path's state (store queries, argon2) would otherwise size, and be
        // copied with, every warm request's future.
        let reason = match Box::pin(self.authenticate_cold(environment, secret, &client_id)).await?
        {
            Ok(authenticated) => return Ok(authenticated),
            Err(reason) => reason,
        };
        // Only guesses count: a refusal with a matching tag (a disabled key, say) proves the
        // caller holds the secret.
        if matches!(
            reason,
            Refusal::UnknownClient | Refusal::WrongSecret | Refusal::WrongAuthMethod
        ) {
            match self.limiter.failed(client_id.as_str(), source, now) {
                Verdict::Refuse => {}
                Verdict::Late(delay) => tokio::time::sleep(delay).await,
                Verdict::TooMany(retry_after) => {
                    tracing::info!(env = %environment, source = ?source, "failed authentications from this address answered 429");
                    return Err(TokenError::TooManyRequests {
                        limit: Limit::AddressLocked,
                        retry_after: whole_seconds(retry_after),
                    });
                }
            }
        }
        Err(refused(environment, &client_id, reason))
    }

    async fn authenticate_cold(
        &self,
        environment: &EnvironmentName,
        secret: &ClientSecret,
        client_id: &ClientId,
    ) -> Result<Result<Authenticated, Refusal>, TokenError> {
        let Some(creds) = self.credentials(client_id).await? else {
            return Ok(Err(Refusal::UnknownClient));
        };
        // A key without a secret (its clients sign with their own keys) matches no secret.
        if !creds.key.auth.has_secret() {
            return Ok(Err(Refusal::WrongAuthMethod));
        }
        let now = self.clock.now();
        let tag = check_tag(secret);
        if !creds.accepted(now).any(|s| secrets::may_match(s, &tag)) {
            return Ok(Err(Refusal::WrongSecret));
        }
        // The tag matches: decide on the key's state before spending argon2 on it.
        if let Err(reason) = check_state(environment, &creds.key, creds.owner_active, now) {
            return Ok(Err(reason));
        }
        let Some(stored) = self.matching_secret(secret, &tag, &creds).await? else {
            return Ok(Err(Refusal::WrongSecret));
        };
        if stored.check.is_none() {
            // A key from before check tags: it gets its tag now that argon2 proved the secret.
            if let Err(e) = self
                .store
                .record_secret_check(client_id, &stored.hash, &tag)
                .await
            {
                tracing::warn!(error = %e, "storing a secret's check tag failed; will retry at its next use");
            }
        }
        // The verification took milliseconds; a deactivation, disable or secret rotation may
        // have committed meanwhile. Decide on the state as it is now, and cache that state
        // only if no change was published since it was read.
        let generation = self.changes.generation();
        let Some(fresh) = self.credentials(client_id).await? else {
            return Ok(Err(Refusal::UnknownClient));
        };
        let Some(valid_until) = fresh.acceptance(&stored.hash, self.clock.now()) else {
            return Ok(Err(Refusal::WrongSecret));
        };
        let secret_version: Arc<str> = secret_version(&stored.hash).into();
        let status_index = fresh.status_index_of(&stored.hash);
        let outcome = check_state(
            environment,
            &fresh.key,
            fresh.owner_active,
            self.clock.now(),
        );
        if outcome.is_ok() {
            self.cache.insert(
                secret,
                &fresh,
                &secret_version,
                valid_until,
                generation,
                || self.changes.generation(),
            );
        }
        Ok(outcome.map(|()| Authenticated {
            key: Arc::new(fresh.key),
            secret_version: Some(secret_version),
            status_index,
            template: None,
        }))
    }

    /// The key's credentials as stored now.
    async fn credentials(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<KeyCredentials>, TokenError> {
        self.store.find_credentials(client_id).await.map_err(|e| {
            tracing::warn!(error = %e, "credential lookup failed");
            TokenError::TemporarilyUnavailable
        })
    }

    /// The stored secret the presented one matches, by argon2id: the current secret, or the
    /// previous one during its grace period after a rotation. Secrets whose tag rules them
    /// out are not verified.
    async fn matching_secret(
        &self,
        secret: &ClientSecret,
        tag: &str,
        creds: &KeyCredentials,
    ) -> Result<Option<StoredSecret>, TokenError> {
        for stored in creds
            .accepted(self.clock.now())
            .filter(|s| secrets::may_match(s, tag))
        {
            if self
                .hasher
                .verify(secret, &stored.hash)
                .await
                .map_err(overloaded)?
            {
                return Ok(Some(stored.clone()));
            }
        }
        Ok(None)
    }
}

pub(super) fn check_state(
    environment: &EnvironmentName,
    key: &ApiKey,
    owner_active: bool,
    now: time::OffsetDateTime,
) -> Result<(), Refusal> {
    if key.environment != *environment {
        Err(Refusal::WrongEnvironment)
    } else if !key.enabled {
        Err(Refusal::KeyDisabled)
    } else if key.is_expired(now) {
        Err(Refusal::KeyExpired)
    } else if !owner_active {
        Err(Refusal::OwnerInactive)
    } else {
        Ok(())
    }
}

/// `Retry-After` is whole seconds; round up so a retry lands after the back-off.
fn whole_seconds(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

/// Logs why (never sent) and answers the one `invalid_client` of every failure.
pub(super) fn refused(
    environment: &EnvironmentName,
    client_id: &ClientId,
    reason: Refusal,
) -> TokenError {
    if is_well_formed_client_id(client_id.as_str()) {
        tracing::info!(env = %environment, client_id = %client_id, reason = reason.label(), "client authentication refused");
    } else {
        // Not an id Keymint issues: it may be a secret pasted into the wrong field, so it
        // stays out of the log.
        tracing::info!(env = %environment, reason = reason.label(), client_id_malformed = true, "client authentication refused");
    }
    TokenError::InvalidClient {
        realm: environment.to_string(),
        reason,
    }
}

/// True for strings shaped like the client ids Keymint issues (`kmc_` + 22 base64url).
pub fn is_well_formed_client_id(id: &str) -> bool {
    id.strip_prefix(crate::secrets::CLIENT_ID_PREFIX)
        .is_some_and(|rest| {
            rest.len() == 22
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

fn overloaded(e: HashError) -> TokenError {
    if !matches!(e, HashError::Overloaded) {
        tracing::warn!(error = %e, "secret verification failed");
    }
    TokenError::TemporarilyUnavailable
}

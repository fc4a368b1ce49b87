//! The client-credentials grant (RFC 6749 §4.4) as a plain async function: authenticate
//! the key, check its state, narrow the scope, pick the audience, mint an RFC 9068 token.

use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;

use super::VerifiedCache;
use super::limits::{AuthLimiter, Verdict};
use super::quota::TokenQuota;
use super::{ClientCredentials, TokenError};
use crate::changes::ChangeFeed;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{
    ApiKey, ClientId, EnvironmentName, KeyCredentials, Permissions, StoredSecret, secret_version,
};
use crate::secrets::{HashError, SecretHasher, check_tag, random_token};
use crate::signing::{EnvironmentKeys, sign_jwt};
use crate::store::Store;
use crate::usage::UsageTracker;

/// Everything the grant needs, borrowed from the application state.
pub struct GrantContext<'a> {
    /// Configuration (issuer, audiences, TTL).
    pub config: &'a Config,
    /// Key storage.
    pub store: &'a dyn Store,
    /// argon2id verification.
    pub hasher: &'a Arc<SecretHasher>,
    /// Keys of the environment (as of this request).
    pub keys: Arc<EnvironmentKeys>,
    /// Time.
    pub clock: &'a dyn Clock,
    /// Where successful uses are noted for `lastUsedAt`.
    pub usage: &'a UsageTracker,
    /// Verified secrets and key states.
    pub cache: &'a VerifiedCache,
    /// Key and user changes (for the cache's insert guard).
    pub changes: &'a ChangeFeed,
    /// Failed-authentication counters.
    pub limiter: &'a AuthLimiter,
    /// Per-key token quotas.
    pub quota: &'a TokenQuota,
    /// The client's address, when known.
    pub source: Option<IpAddr>,
}

/// A parsed, syntactically valid token request.
#[derive(Debug)]
pub struct TokenRequest {
    /// Environment of the endpoint called.
    pub environment: EnvironmentName,
    /// Presented credentials.
    pub credentials: ClientCredentials,
    /// Requested scope, `None` for all of the key's permissions.
    pub scope: Option<Permissions>,
    /// Requested audience (`audience` or `resource`).
    pub audience: Option<String>,
}

/// A minted token. `Debug` leaves the token out: it is a bearer credential.
pub struct IssuedToken {
    /// The JWT.
    pub access_token: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Granted scope.
    pub scope: String,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Claims of a Keymint access token (RFC 9068 §2.2 plus `permissions` and `env`).
#[derive(Debug, Serialize)]
pub struct AccessTokenClaims<'a> {
    /// Issuer of the environment.
    pub iss: &'a str,
    /// Owner of the key.
    pub sub: &'a str,
    /// Audience.
    pub aud: &'a str,
    /// Expiry (seconds since epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Unique token id.
    pub jti: &'a str,
    /// The key's client id.
    pub client_id: &'a str,
    /// Granted scope, space-separated.
    pub scope: &'a str,
    /// Granted permissions.
    pub permissions: Vec<&'a str>,
    /// Environment name.
    pub env: &'a str,
    /// Fingerprint of the key's secret that minted the token: introspection refuses
    /// tokens minted with a secret since replaced (Keymint's claim).
    pub sv: &'a str,
}

/// Why authentication failed; logged, never sent to the client.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    UnknownClient,
    WrongSecret,
    WrongEnvironment,
    KeyDisabled,
    KeyExpired,
    OwnerInactive,
}

impl Refusal {
    /// The `reason` label of `keymint_token_requests_total`.
    fn label(self) -> &'static str {
        match self {
            Self::UnknownClient => "unknown_client",
            Self::WrongSecret => "wrong_secret",
            Self::WrongEnvironment => "wrong_environment",
            Self::KeyDisabled => "key_disabled",
            Self::KeyExpired => "key_expired",
            Self::OwnerInactive => "owner_inactive",
        }
    }
}

/// Runs the grant.
pub async fn issue_token(
    ctx: &GrantContext<'_>,
    req: TokenRequest,
) -> Result<IssuedToken, TokenError> {
    let audiences = ctx.config.audiences(&req.environment);
    let audience = match &req.audience {
        None => audiences[0].clone(),
        Some(a) if audiences.contains(a) => a.clone(),
        // RFC 8707 §2: an unknown resource is invalid_target.
        Some(_) => {
            return Err(TokenError::InvalidTarget(
                "the requested audience is not served".into(),
            ));
        }
    };

    let Authenticated {
        key,
        secret_version,
    } = authenticate(ctx, &req.environment, &req.credentials).await?;

    if let Err(retry_after) = ctx.quota.take(key.client_id.as_str(), ctx.clock.now()) {
        tracing::info!(env = %req.environment, client_id = %key.client_id, "token quota exceeded");
        return Err(TokenError::TooManyRequests {
            reason: "this key is over its token quota",
            retry_after,
        });
    }

    let granted = match &req.scope {
        None => key.permissions.clone(),
        Some(scope) if scope.is_subset(&key.permissions) => scope.clone(),
        Some(_) => {
            return Err(TokenError::InvalidScope(
                "the requested scope exceeds the key's permissions".into(),
            ));
        }
    };

    let now = ctx.clock.now().unix_timestamp();
    let ttl = ctx.config.token_ttl.as_secs();
    let issuer = ctx.config.issuer(&req.environment);
    let jti = random_token(16);
    let scope = granted.to_scope();
    let claims = AccessTokenClaims {
        iss: &issuer,
        sub: key.owner_id.as_str(),
        aud: &audience,
        exp: now + i64::try_from(ttl).unwrap_or(3600),
        iat: now,
        nbf: now,
        jti: &jti,
        client_id: key.client_id.as_str(),
        scope: &scope,
        permissions: granted.iter().collect(),
        env: req.environment.as_str(),
        sv: &secret_version,
    };
    let access_token =
        sign_jwt(&ctx.keys.active, &claims).map_err(|_| TokenError::TemporarilyUnavailable)?;
    ctx.usage.touch(&key.client_id, ctx.clock.now());
    // Debug, not info: at tens of thousands of tokens per second a line per token is a
    // write per request. Refusals stay at info.
    tracing::debug!(env = %req.environment, client_id = %key.client_id, sub = %key.owner_id, jti = %jti, "token issued");
    Ok(IssuedToken {
        access_token,
        expires_in: ttl,
        scope,
    })
}

/// A client that proved it holds a key's secret.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The key, in its current state.
    pub key: ApiKey,
    /// Fingerprint of the stored secret that matched (the `sv` claim).
    pub secret_version: String,
}

/// Authenticates a client of `environment`. Every failure answers the same
/// `invalid_client`.
///
/// Warm path: a cached verification of this exact secret answers without argon2 or the
/// database. Cold path: one credentials lookup decides every refusal at once (unknown id,
/// check-tag mismatch, or a key that is disabled, expired, of another environment or of
/// an inactive owner), so all refusals take the same fast path; argon2id runs only for a
/// right secret of a usable key. Brute-force limits then judge failures only.
pub async fn authenticate(
    ctx: &GrantContext<'_>,
    environment: &EnvironmentName,
    credentials: &ClientCredentials,
) -> Result<Authenticated, TokenError> {
    let client_id = ClientId::new(credentials.client_id.clone());
    let now = ctx.clock.now();
    if let Some(hit) = ctx
        .cache
        .lookup(client_id.as_str(), &credentials.secret, now)
    {
        return check_state(ctx, environment, hit.key, hit.owner_active)
            .map(|key| Authenticated {
                key,
                secret_version: hit.secret_version,
            })
            .map_err(|reason| refused(environment, &client_id, reason));
    }
    let reason = match authenticate_cold(ctx, environment, credentials, &client_id).await? {
        Ok(authenticated) => return Ok(authenticated),
        Err(reason) => reason,
    };
    // Only guesses count: a refusal with a matching tag (a disabled key, say) proves the
    // caller holds the secret.
    if matches!(reason, Refusal::UnknownClient | Refusal::WrongSecret) {
        match ctx.limiter.failed(client_id.as_str(), ctx.source, now) {
            Verdict::Refuse => {}
            Verdict::Late(delay) => tokio::time::sleep(delay).await,
            Verdict::TooMany(retry_after) => {
                tracing::info!(env = %environment, source = ?ctx.source, "failed authentications from this address answered 429");
                return Err(TokenError::TooManyRequests {
                    reason: "too many failed authentications from this address",
                    retry_after: whole_seconds(retry_after),
                });
            }
        }
    }
    Err(refused(environment, &client_id, reason))
}

/// `Retry-After` is whole seconds; round up so a retry lands after the back-off.
fn whole_seconds(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

/// Logs why (never sent) and answers the one `invalid_client` of every failure.
fn refused(environment: &EnvironmentName, client_id: &ClientId, reason: Refusal) -> TokenError {
    if is_well_formed_client_id(client_id.as_str()) {
        tracing::info!(env = %environment, client_id = %client_id, ?reason, "client authentication refused");
    } else {
        // Not an id Keymint issues: it may be a secret pasted into the wrong field, so it
        // stays out of the log.
        tracing::info!(env = %environment, ?reason, client_id_malformed = true, "client authentication refused");
    }
    TokenError::InvalidClient {
        realm: environment.to_string(),
        reason: reason.label(),
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

async fn authenticate_cold(
    ctx: &GrantContext<'_>,
    environment: &EnvironmentName,
    credentials: &ClientCredentials,
    client_id: &ClientId,
) -> Result<Result<Authenticated, Refusal>, TokenError> {
    let lookup = |e: crate::store::StoreError| {
        tracing::warn!(error = %e, "credential lookup failed");
        TokenError::TemporarilyUnavailable
    };
    let Some(creds) = ctx
        .store
        .find_credentials(client_id)
        .await
        .map_err(lookup)?
    else {
        return Ok(Err(Refusal::UnknownClient));
    };
    let now = ctx.clock.now();
    let tag = check_tag(&credentials.secret);
    if !creds.accepted(now).any(|s| s.may_match(&tag)) {
        return Ok(Err(Refusal::WrongSecret));
    }
    // The tag matches: decide on the key's state before spending argon2 on it.
    if let Err(reason) = check_state(ctx, environment, creds.key.clone(), creds.owner_active) {
        return Ok(Err(reason));
    }
    let Some(stored) = matching_secret(ctx, &credentials.secret, &tag, &creds).await? else {
        return Ok(Err(Refusal::WrongSecret));
    };
    if stored.check.is_none() {
        // A key from before check tags: it gets its tag now that argon2 proved the secret.
        if let Err(e) = ctx
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
    let generation = ctx.changes.generation();
    let Some(fresh) = ctx
        .store
        .find_credentials(client_id)
        .await
        .map_err(lookup)?
    else {
        return Ok(Err(Refusal::UnknownClient));
    };
    let valid_until = if fresh.secret.hash == stored.hash {
        None
    } else {
        match &fresh.previous_secret {
            Some((previous, until)) if previous.hash == stored.hash && ctx.clock.now() < *until => {
                Some(*until)
            }
            _ => return Ok(Err(Refusal::WrongSecret)),
        }
    };
    let secret_version = secret_version(&stored.hash);
    let outcome = check_state(ctx, environment, fresh.key.clone(), fresh.owner_active);
    if outcome.is_ok() {
        ctx.cache.insert(
            &credentials.secret,
            &fresh,
            &secret_version,
            valid_until,
            generation,
            || ctx.changes.generation(),
        );
    }
    Ok(outcome.map(|key| Authenticated {
        key,
        secret_version,
    }))
}

fn overloaded(e: HashError) -> TokenError {
    if !matches!(e, HashError::Overloaded) {
        tracing::warn!(error = %e, "secret verification failed");
    }
    TokenError::TemporarilyUnavailable
}

/// The stored secret the presented one matches, by argon2id: the current secret, or the
/// previous one during its grace period after a rotation. Secrets whose tag rules them
/// out are not verified.
async fn matching_secret(
    ctx: &GrantContext<'_>,
    secret: &crate::secrets::ClientSecret,
    tag: &str,
    creds: &KeyCredentials,
) -> Result<Option<StoredSecret>, TokenError> {
    for stored in creds.accepted(ctx.clock.now()).filter(|s| s.may_match(tag)) {
        if ctx
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

fn check_state(
    ctx: &GrantContext<'_>,
    environment: &EnvironmentName,
    key: ApiKey,
    owner_active: bool,
) -> Result<ApiKey, Refusal> {
    if key.environment != *environment {
        Err(Refusal::WrongEnvironment)
    } else if !key.enabled {
        Err(Refusal::KeyDisabled)
    } else if key.is_expired(ctx.clock.now()) {
        Err(Refusal::KeyExpired)
    } else if !owner_active {
        Err(Refusal::OwnerInactive)
    } else {
        Ok(key)
    }
}

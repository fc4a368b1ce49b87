//! Minting an access token (RFC 9068), the one place every grant ends: the key's token
//! quota, the claims, the signature with the environment's active key, and the key's
//! last use.

use serde::Serialize;

use crate::config::EnvironmentConfig;
use crate::domain::{ApiKey, EnvironmentName, Permissions};
use crate::oauth::{Limit, OAuthState, TokenError};
use crate::signing::sign_jwt;
use crate::status_list::StatusClaim;

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
    pub permissions: &'a Permissions,
    /// Environment name.
    pub env: &'a str,
    /// Fingerprint of the key's secret that minted the token: introspection refuses
    /// tokens minted with a secret since replaced (Keymint's claim). Absent for a client
    /// that signed an assertion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sv: Option<&'a str>,
    /// Where the credential's bit is (draft-ietf-oauth-status-list §6.1): gateways
    /// reading the list refuse the token once the key can no longer mint.
    pub status: StatusClaim<'a>,
}

/// What a grant decided to issue.
pub struct Mint<'a> {
    /// The environment of the endpoint.
    pub environment: &'a EnvironmentName,
    /// Its configuration (issuer).
    pub served: &'a EnvironmentConfig,
    /// The key the token acts for.
    pub key: &'a ApiKey,
    /// The permissions granted (the key's, or a subset the client asked for).
    pub granted: &'a Permissions,
    /// The audience.
    pub audience: &'a str,
    /// The secret version (`sv`) that authenticated, when a secret did.
    pub secret_version: Option<&'a str>,
    /// The client's address, noted as the key's last.
    pub source: Option<std::net::IpAddr>,
    /// The status-list index of the credential that authenticated.
    pub status_index: u32,
}

/// Takes one token from the key's quota, signs the token and notes the key's use.
pub fn mint(ctx: &OAuthState, mint: Mint<'_>) -> Result<IssuedToken, TokenError> {
    let Mint {
        environment,
        served,
        key,
        granted,
        audience,
        secret_version,
        source,
        status_index,
    } = mint;
    let keys = ctx.keys_of(environment)?;
    if let Err(retry_after) = ctx.quota.take(key.client_id.as_str(), ctx.clock.now()) {
        tracing::info!(env = %environment, client_id = %key.client_id, "token quota exceeded");
        return Err(TokenError::TooManyRequests {
            limit: Limit::TokenQuota,
            retry_after,
        });
    }
    let now = ctx.clock.now().unix_timestamp();
    let ttl = ctx.config.token_ttl.as_secs();
    let jti = ctx.random.token(16);
    let scope = granted.to_scope();
    let claims = AccessTokenClaims {
        iss: &served.issuer,
        sub: key.owner_id.as_str(),
        aud: audience,
        exp: now + i64::try_from(ttl).unwrap_or(3600),
        iat: now,
        nbf: now,
        jti: &jti,
        client_id: key.client_id.as_str(),
        scope: &scope,
        permissions: granted,
        env: environment.as_str(),
        sv: secret_version,
        status: StatusClaim::new(served, status_index),
    };
    let access_token =
        sign_jwt(&keys.active, &claims).map_err(|_| TokenError::TemporarilyUnavailable)?;
    ctx.usage.touch(&key.client_id, ctx.clock.now(), source);
    // Debug, not info: at tens of thousands of tokens per second a line per token is a
    // write per request. Refusals stay at info.
    tracing::debug!(env = %environment, client_id = %key.client_id, sub = %key.owner_id, jti = %jti, "token issued");
    Ok(IssuedToken {
        access_token,
        expires_in: ttl,
        scope,
    })
}

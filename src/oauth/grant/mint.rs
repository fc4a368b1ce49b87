//! Minting an access token (RFC 9068), the one place every grant ends: the key's token
//! quota, the claims, the signature with the environment's active key, and the key's
//! last use.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use crate::config::EnvironmentConfig;
use crate::domain::{ApiKey, EnvironmentName, Permissions};
use crate::oauth::claims::{ClaimsTemplate, FixedClaims, TemplateSlot};
use crate::oauth::{Limit, OAuthState, TokenError};
use crate::status_list::StatusClaim;

/// A minted token. `Debug` leaves the token out: it is a bearer credential.
pub struct IssuedToken {
    /// The JWT.
    pub access_token: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Granted scope.
    pub scope: Arc<str>,
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
    /// Where the credential keeps its claims template, when the token is the one it
    /// usually mints (the key's permissions, the default audience); `None` writes the
    /// claims for this token alone.
    pub template: Option<&'a TemplateSlot>,
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
        template,
    } = mint;
    let keys = ctx.keys_of(environment)?;
    let at = ctx.clock.now();
    if let Err(retry_after) = ctx.quota.take(key.client_id.as_str(), at) {
        tracing::info!(env = %environment, client_id = %key.client_id, "token quota exceeded");
        return Err(TokenError::TooManyRequests {
            limit: Limit::TokenQuota,
            retry_after,
        });
    }
    let build = || {
        let scope = granted.to_scope();
        ClaimsTemplate::new(&FixedClaims {
            iss: &served.issuer,
            sub: key.owner_id.as_str(),
            aud: audience,
            client_id: key.client_id.as_str(),
            scope: &scope,
            permissions: granted,
            env: environment.as_str(),
            sv: secret_version,
            status: StatusClaim::new(served, status_index),
        })
    };
    let written;
    let template = match template {
        Some(slot) => slot.get_or_init(build),
        None => {
            written = build();
            &written
        }
    };
    let now = at.unix_timestamp();
    let ttl = ctx.config.token_ttl.as_secs();
    // RFC 9068 §2.2 / RFC 7519 §4.1.7: a unique `jti`, 128 random bits, on the stack.
    let mut id = [0u8; 16];
    ctx.random.fill(&mut id);
    let mut jti = [0u8; 22];
    let written_len = URL_SAFE_NO_PAD
        .encode_slice(id, &mut jti)
        .expect("16 bytes encode to 22 characters");
    let jti = std::str::from_utf8(&jti[..written_len]).expect("base64url is ASCII");
    let exp = now + i64::try_from(ttl).unwrap_or(3600);
    let access_token = template.sign(&keys.active, now, exp, jti);
    ctx.usage.touch(&key.client_id, at, source);
    // Debug, not info: at tens of thousands of tokens per second a line per token is a
    // write per request. Refusals stay at info.
    tracing::debug!(env = %environment, client_id = %key.client_id, sub = %key.owner_id, jti = %jti, "token issued");
    Ok(IssuedToken {
        access_token,
        expires_in: ttl,
        scope: Arc::clone(template.scope()),
    })
}

//! The client-credentials grant (RFC 6749 §4.4) as a plain async function: authenticate
//! the key ([`super::authentication`]), narrow the scope, pick the audience, mint an RFC 9068
//! token.

use serde::Serialize;

use super::authentication::Authenticated;
use super::{ClientCredentials, OAuthState, TokenError};
use crate::domain::{EnvironmentName, Permissions};
use crate::signing::sign_jwt;
use crate::web::SourceAddress;

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

/// Runs the grant.
pub async fn issue_token(
    ctx: &OAuthState,
    req: TokenRequest,
    source: SourceAddress,
) -> Result<IssuedToken, TokenError> {
    let keys = ctx.keys_of(&req.environment)?;
    let served = ctx
        .config
        .environment(req.environment.as_str())
        .ok_or(TokenError::UnknownEnvironment)?;
    let audience = match &req.audience {
        None => served.audiences[0].as_str(),
        Some(a) if served.audiences.contains(a) => a.as_str(),
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
    } = ctx
        .authenticator
        .authenticate(&req.environment, &req.credentials, source.0)
        .await?;

    if let Err(retry_after) = ctx.quota.take(key.client_id.as_str(), ctx.clock.now()) {
        tracing::info!(env = %req.environment, client_id = %key.client_id, "token quota exceeded");
        return Err(TokenError::TooManyRequests {
            reason: "this key is over its token quota",
            retry_after,
        });
    }

    let granted = match &req.scope {
        None => &key.permissions,
        Some(scope) if scope.is_subset(&key.permissions) => scope,
        Some(_) => {
            return Err(TokenError::InvalidScope(
                "the requested scope exceeds the key's permissions".into(),
            ));
        }
    };

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
        permissions: granted.iter().collect(),
        env: req.environment.as_str(),
        sv: &secret_version,
    };
    let access_token =
        sign_jwt(&keys.active, &claims).map_err(|_| TokenError::TemporarilyUnavailable)?;
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

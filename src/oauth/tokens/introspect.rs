//! `POST /{env}/oauth2/introspect` (RFC 7662). The caller authenticates as a client of
//! the environment whose key holds `IntrospectToken`. No argon2 for warm callers and no
//! write per request. A token seen before is answered from [`super::TokenCache`], which
//! every change that concerns it empties on every instance; a new one is verified and
//! checked against the database.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

use super::check::{Inactive, TokenChecker, still_good};
use super::token_cache::{CachedToken, token_hash};
use crate::domain::EnvironmentName;
use crate::oauth::params::Param;
use crate::oauth::request::OAuthRequest;
use crate::oauth::{OAuthState, TokenError};
use crate::web::SourceAddress;
use crate::web::errors;

/// The permission a caller needs.
pub const INTROSPECT_PERMISSION: &str = "IntrospectToken";

/// The introspection handler.
pub async fn introspect(
    State(oauth): State<Arc<OAuthState>>,
    source: SourceAddress,
    request: OAuthRequest,
) -> Result<Response, TokenError> {
    let environment = &request.environment;
    let caller = oauth.authenticate(&request, source).await?;
    if !caller.key.permissions.contains(INTROSPECT_PERMISSION) {
        return Ok(errors::oauth(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "introspection needs the IntrospectToken permission",
        ));
    }
    let token = request
        .params
        .get(Param::Token)
        .ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
    let answer = match answer(&oauth.tokens, environment, token).await {
        Ok(active) => active,
        Err(reason) if reason.unavailable => return Err(TokenError::TemporarilyUnavailable),
        Err(reason) => {
            // RFC 7662 §2.2: anything not active is just {"active": false}; why is
            // logged, never sent.
            tracing::info!(env = %environment, %reason, "introspection answered inactive");
            Arc::from(&br#"{"active":false}"#[..])
        }
    };
    Ok(errors::no_store(
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            Body::from(Bytes::from_owner(answer)),
        )
            .into_response(),
    ))
}

/// The active answer for `token`, from the cache when it was checked before and nothing
/// it depends on has changed; else verified, checked against the database and cached.
pub async fn answer(
    tokens: &TokenChecker,
    environment: &EnvironmentName,
    token: &str,
) -> Result<Arc<[u8]>, Inactive> {
    let hash = token_hash(token);
    let now = tokens.clock.now();
    // Past KEYMINT_MAX_STALENESS a cached answer may predate a change this instance has
    // not heard of: verified and checked against the database instead.
    let trusted = tokens.changes.trusted();
    if trusted && let Some(hit) = tokens.cache.lookup(&hash) {
        return still_active(tokens, &hit, environment, now).map(|()| Arc::clone(&hit.answer));
    }
    let claims = tokens.verify(environment, token)?;
    let generation = tokens.changes.generation();
    let creds = tokens.check_current(environment, &claims).await?;
    let body = serde_json::to_vec(&json!({
        "active": true,
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "nbf": claims.nbf,
        "jti": claims.jti,
        "token_type": "Bearer",
        "env": claims.env,
        "permissions": claims.permissions,
    }))
    .map_err(|_| Inactive {
        reason: "the answer could not be written".into(),
        unavailable: true,
    })?;
    let answer: Arc<[u8]> = body.into();
    if trusted && let Some(kid) = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid) {
        let entry = CachedToken {
            environment: environment.clone(),
            kid,
            claims,
            creds,
            answer: Arc::clone(&answer),
        };
        tokens
            .cache
            .insert(hash, entry, generation, || tokens.changes.generation());
    }
    Ok(answer)
}

/// What a cached token needs at each use: the time-dependent checks (its `exp` and
/// `nbf`, its key's expiry and secret grace period) and its signing key still published.
/// Everything else was checked when it was cached, and any change since removed it.
fn still_active(
    tokens: &TokenChecker,
    hit: &CachedToken,
    environment: &EnvironmentName,
    now: time::OffsetDateTime,
) -> Result<(), Inactive> {
    let inactive = |reason: &str| Inactive {
        reason: reason.to_owned(),
        unavailable: false,
    };
    if hit.environment != *environment {
        return Err(inactive("token of another environment"));
    }
    let at = now.unix_timestamp();
    if at >= hit.claims.exp || at < hit.claims.nbf {
        return Err(inactive("token expired or not yet valid"));
    }
    let published = tokens
        .keys
        .get(environment)
        .is_some_and(|keys| keys.published.iter().any(|k| k.kid() == hit.kid));
    if !published {
        return Err(inactive("token not signed by this environment"));
    }
    still_good(&hit.creds, now, environment, &hit.claims.issued())
}

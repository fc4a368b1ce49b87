//! `POST /{env}/oauth2/revoke` (RFC 7009): a client revokes an access token it was
//! issued. The token's `jti` is remembered until the token's `exp`, then forgotten;
//! introspection and the management API refuse it on every instance at once. The write
//! is the management use case every revocation goes through.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use crate::domain::{Actor, ChangeSource, UserId};
use crate::oauth::params::Param;
use crate::oauth::request::OAuthRequest;
use crate::oauth::{Limit, OAuthState, TokenError};
use crate::store::TokenRevocation;
use crate::web::SourceAddress;
use crate::web::errors;
use crate::web::request_id::RequestId;

/// Revocations one key may make per minute on one instance (bursts up to that many). A
/// revocation is a change-feed row that every instance applies, so an ordinary key in a
/// mint-then-revoke loop must not be able to flood the feed that carries deactivations.
pub const REVOCATIONS_PER_MINUTE: u32 = 600;

/// The revocation handler.
pub async fn revoke(
    State(oauth): State<Arc<OAuthState>>,
    source: SourceAddress,
    request_id: Option<Extension<RequestId>>,
    request: OAuthRequest,
) -> Result<Response, TokenError> {
    if request.params.get(Param::TokenTypeHint) == Some("refresh_token") {
        // Keymint issues no refresh tokens (RFC 7009 §2.2.1).
        return Err(TokenError::UnsupportedTokenType);
    }
    let environment = &request.environment;
    let caller = oauth.authenticate(&request, source).await?;
    let token = request
        .params
        .get(Param::Token)
        .ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
    // RFC 7009 §2.2: invalid, expired or unknown tokens are answered 200 all the same.
    let Ok(claims) = oauth.tokens.verify(environment, token) else {
        return Ok(ok());
    };
    // RFC 7009 §2.1: only the client the token was issued to may revoke it.
    if claims.client_id != caller.key.client_id.as_str() {
        tracing::info!(client_id = %caller.key.client_id, jti = %claims.jti, "revocation of another client's token refused");
        return Ok(errors::oauth(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the token was not issued to this client",
        ));
    }
    let now = oauth.clock.now();
    if let Err(retry_after) = oauth
        .revocation_quota
        .take(caller.key.client_id.as_str(), now)
    {
        return Err(TokenError::TooManyRequests {
            limit: Limit::RevocationQuota,
            retry_after: std::time::Duration::from_secs(retry_after.as_secs().max(1)),
        });
    }
    let expires_at = time::OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or(now);
    let token = TokenRevocation {
        jti: claims.jti.clone(),
        environment: environment.clone(),
        client_id: Some(caller.key.client_id.clone()),
        user_id: UserId::parse(&claims.sub),
        expires_at,
    };
    let actor = Actor {
        source: ChangeSource::OAuth,
        user: Some(caller.key.owner_id.clone()),
        client_id: Some(caller.key.client_id.clone()),
        operator: None,
    };
    // Publishes the change: this instance's caches at once, the others through the feed.
    oauth
        .management
        .acting_as(actor, request_id.map(|Extension(RequestId(id))| id))
        .revoke_token(&token)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "revocation failed");
            TokenError::TemporarilyUnavailable
        })?;
    Ok(ok())
}

fn ok() -> Response {
    errors::no_store(StatusCode::OK.into_response())
}

//! `POST /{env}/oauth2/revoke` (RFC 7009): a client revokes an access token it was
//! issued. The token's `jti` is remembered until the token's `exp`, then forgotten;
//! introspection and the management API refuse it on every instance at once.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use super::{OAuthRequest, OAuthState, TokenError};
use crate::domain::{Actor, ChangeSource, UserId};
use crate::store::{TokenRevocation, WriteContext};
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
    if request.params.token_type_hint.as_deref() == Some("refresh_token") {
        // Keymint issues no refresh tokens (RFC 7009 §2.2.1).
        return Err(TokenError::UnsupportedTokenType);
    }
    let environment = &request.environment;
    let caller = oauth.authenticate(&request, source).await?;
    let token = request
        .params
        .token
        .as_deref()
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
            reason: "revocation quota of this key exceeded",
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
    let ctx = WriteContext {
        now,
        actor: Actor {
            source: ChangeSource::OAuth,
            user: Some(caller.key.owner_id.clone()),
            client_id: Some(caller.key.client_id.clone()),
            operator: None,
        },
        request_id: request_id.map(|Extension(RequestId(id))| id),
    };
    oauth.store.revoke_token(&token, &ctx).await.map_err(|e| {
        tracing::warn!(error = %e, "revocation failed");
        TokenError::TemporarilyUnavailable
    })?;
    // This instance's introspection cache at once; the others through the change feed.
    oauth
        .authenticator
        .changes
        .publish(crate::changes::Change::Token(claims.jti.clone()));
    tracing::info!(env = %environment, client_id = %caller.key.client_id, jti = %claims.jti, "token revoked");
    Ok(ok())
}

fn ok() -> Response {
    errors::no_store(StatusCode::OK.into_response())
}

//! `POST /{env}/oauth2/revoke` (RFC 7009): a client revokes an access token it was
//! issued. The token's `jti` is remembered until the token's `exp`, then forgotten;
//! introspection and the management API refuse it on every instance at once.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::access_token::verify_claims;
use super::{TokenError, authenticate};
use crate::domain::ClientId;
use crate::http::AppState;

/// The revocation handler.
pub async fn revoke(
    State(state): State<AppState>,
    Path(env): Path<String>,
    source: super::SourceAddress,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, TokenError> {
    let request = super::token::client_request(&state, &env, &headers, body, |params| {
        match params.token_type_hint.as_deref() {
            // Keymint issues no refresh tokens (RFC 7009 §2.2.1).
            Some("refresh_token") => Err(TokenError::UnsupportedTokenType),
            _ => Ok(()),
        }
    })?;
    let environment = &request.environment;
    let ctx = super::token::grant_context(&state, environment, source)?;
    let caller = authenticate(&ctx, environment, &request.credentials).await?;
    let token = request
        .params
        .token
        .ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
    // RFC 7009 §2.2: invalid, expired or unknown tokens are answered 200 all the same.
    let Ok(claims) = verify_claims(&state, environment, &token) else {
        return Ok(ok());
    };
    // RFC 7009 §2.1: only the client the token was issued to may revoke it.
    if claims.client_id != caller.key.client_id.as_str() {
        tracing::info!(client_id = %caller.key.client_id, jti = %claims.jti, "revocation of another client's token refused");
        let body = json!({"error": "unauthorized_client", "error_description": "the token was not issued to this client"});
        // RFC 6749 §5.2 errors of token-handling endpoints are not to be cached either.
        let mut response = (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        return Ok(response);
    }
    let expires_at =
        time::OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or_else(|_| state.clock.now());
    state
        .store
        .revoke_token(
            &claims.jti,
            environment,
            Some(&ClientId::new(claims.client_id.clone())),
            state.clock.now(),
            expires_at,
        )
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "revocation failed");
            TokenError::TemporarilyUnavailable
        })?;
    tracing::info!(env = %environment, client_id = %caller.key.client_id, jti = %claims.jti, "token revoked");
    Ok(ok())
}

fn ok() -> Response {
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

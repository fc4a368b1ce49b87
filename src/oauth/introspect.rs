//! `POST /{env}/oauth2/introspect` (RFC 7662). The caller authenticates as a client of
//! the environment whose key holds `IntrospectToken`. No argon2 for warm callers and no
//! write per request; the answer reflects the database, so it is right on every instance.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

use super::{OAuthRequest, OAuthState, SourceAddress, TokenError};
use crate::http::errors;

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
        .token
        .as_deref()
        .ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
    // RFC 7662 §2.2: anything not active is just {"active": false}.
    let answer = match oauth.tokens.verify(environment, token) {
        Err(reason) => {
            tracing::debug!(%reason, "introspection: inactive");
            json!({"active": false})
        }
        Ok(claims) => match oauth.tokens.check_current(environment, &claims).await {
            // Nothing is known to be wrong with the token: "retry", never "inactive".
            Err(reason) if reason.unavailable => return Err(TokenError::TemporarilyUnavailable),
            Err(reason) => {
                tracing::debug!(%reason, jti = %claims.jti, "introspection: inactive");
                json!({"active": false})
            }
            Ok(_) => json!({
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
            }),
        },
    };
    Ok(errors::no_store(axum::Json(answer).into_response()))
}

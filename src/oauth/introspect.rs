//! `POST /{env}/oauth2/introspect` (RFC 7662). The caller authenticates as a client of
//! the environment whose key holds `IntrospectToken`. No argon2 for warm callers and no
//! write per request; the answer reflects the database, so it is right on every instance.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::access_token::{check_current, verify_claims};
use super::{TokenError, authenticate};
use crate::http::AppState;

/// The permission a caller needs.
pub const INTROSPECT_PERMISSION: &str = "IntrospectToken";

/// The introspection handler.
pub async fn introspect(
    State(state): State<AppState>,
    Path(env): Path<String>,
    source: super::SourceAddress,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, TokenError> {
    let request = super::token::client_request(&state, &env, &headers, body, |_| Ok(()))?;
    let (environment, params) = (&request.environment, request.params);
    let ctx = super::token::grant_context(&state, environment, source)?;
    let caller = authenticate(&ctx, environment, &request.credentials).await?;
    if !caller.key.permissions.contains(INTROSPECT_PERMISSION) {
        let body = json!({"error": "insufficient_scope", "error_description": "introspection needs the IntrospectToken permission"});
        return Ok(no_store(
            (StatusCode::FORBIDDEN, axum::Json(body)).into_response(),
        ));
    }
    let token = params
        .token
        .ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
    // RFC 7662 §2.2: anything not active is just {"active": false}.
    let answer = match verify_claims(&state, environment, &token) {
        Err(reason) => {
            tracing::debug!(%reason, "introspection: inactive");
            json!({"active": false})
        }
        Ok(claims) => match check_current(&state, environment, &claims).await {
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
    Ok(no_store(axum::Json(answer).into_response()))
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

//! `POST /{env}/oauth2/token`: check the parameters, run the grant, answer (RFC 6749 §5.1).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use super::client_request::Rejected;
use super::{OAuthRequest, OAuthState, SourceAddress, TokenError, TokenRequest, issue_token};
use crate::domain::Permissions;

/// The token endpoint handler.
pub async fn token(
    State(oauth): State<Arc<OAuthState>>,
    source: SourceAddress,
    request: Result<OAuthRequest, Rejected>,
) -> Response {
    // Label values come from configuration and fixed sets, never from the request.
    let label = |env: Option<&str>| {
        env.and_then(|e| oauth.config.environment(e))
            .map_or("unknown", |e| e.name.as_str())
    };
    let (env_label, result) = match request {
        Ok(request) => (
            label(Some(request.environment.as_str())),
            handle(&oauth, request, source).await,
        ),
        Err(rejected) => (
            label(rejected.environment.as_ref().map(|e| e.as_str())),
            Err(rejected.error),
        ),
    };
    match result {
        Ok(response) => {
            oauth.requests.token(env_label, "issued", "none");
            response
        }
        Err(error) => {
            let (outcome, reason) = error.metric_labels();
            oauth.requests.token(env_label, outcome, reason);
            error.into_response()
        }
    }
}

async fn handle(
    oauth: &OAuthState,
    request: OAuthRequest,
    source: SourceAddress,
) -> Result<Response, TokenError> {
    let params = &request.params;
    // RFC 6749 §4.4.2: grant_type is REQUIRED and must be client_credentials.
    match params.grant_type.as_deref() {
        None => return Err(TokenError::InvalidRequest("grant_type is required".into())),
        Some("client_credentials") => {}
        Some(_) => return Err(TokenError::UnsupportedGrantType),
    }
    let credentials = request.credentials()?;
    let scope = params
        .scope
        .as_deref()
        .map(Permissions::parse_scope)
        .transpose()
        .map_err(|e| TokenError::InvalidScope(e.to_string()))?
        .filter(|s| !s.is_empty());
    let audience = match (&params.audience, &params.resource) {
        (Some(a), Some(r)) if a != r => {
            return Err(TokenError::InvalidRequest(
                "audience and resource name different targets".into(),
            ));
        }
        (a, r) => a.clone().or_else(|| r.clone()),
    };
    let token_request = TokenRequest {
        environment: request.environment,
        credentials,
        scope,
        audience,
    };
    let issued = issue_token(oauth, token_request, source).await?;
    let body = serde_json::json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    });
    let mut response = axum::Json(body).into_response();
    // RFC 6749 §5.1: responses carrying tokens MUST NOT be cached.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

//! `POST /{env}/oauth2/token`: extract, parse, run the grant, answer (RFC 6749 §5.1).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::client_auth::resolve_credentials;
use super::{
    ClientCredentials, GrantContext, SourceAddress, TokenError, TokenParams, TokenRequest,
    issue_token, parse_token_body,
};
use crate::domain::{EnvironmentName, Permissions};
use crate::http::AppState;

/// The token endpoint handler.
pub async fn token(
    State(state): State<AppState>,
    Path(env): Path<String>,
    source: SourceAddress,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = handle(&state, &env, source, &headers, body).await;
    // Label values come from configuration and fixed sets, never from the request.
    let env_label = state
        .config
        .environment(&env)
        .map_or("unknown", |e| e.name.as_str());
    match result {
        Ok(response) => {
            state.requests.token(env_label, "issued", "none");
            response
        }
        Err(error) => {
            let (outcome, reason) = error.metric_labels();
            state.requests.token(env_label, outcome, reason);
            error.into_response()
        }
    }
}

async fn handle(
    state: &AppState,
    env: &str,
    source: SourceAddress,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, TokenError> {
    let request = client_request(state, env, headers, body, |params| {
        // RFC 6749 §4.4.2: grant_type is REQUIRED and must be client_credentials.
        match params.grant_type.as_deref() {
            None => Err(TokenError::InvalidRequest("grant_type is required".into())),
            Some("client_credentials") => Ok(()),
            Some(_) => Err(TokenError::UnsupportedGrantType),
        }
    })?;
    let params = &request.params;
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
    let ctx = grant_context(state, &request.environment, source)?;
    let token_request = TokenRequest {
        environment: request.environment,
        credentials: request.credentials,
        scope,
        audience,
    };
    let issued = issue_token(&ctx, token_request).await?;
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

/// A request to one of the client-authenticated OAuth endpoints (token, introspection,
/// revocation), parsed but not yet authenticated.
pub(super) struct ClientRequest {
    pub environment: EnvironmentName,
    pub params: TokenParams,
    pub credentials: ClientCredentials,
}

/// Resolves the environment, parses the body, runs `check` on the parameters (before any
/// authentication work), and picks the client's credentials.
pub(super) fn client_request(
    state: &AppState,
    env: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    check: impl FnOnce(&TokenParams) -> Result<(), TokenError>,
) -> Result<ClientRequest, TokenError> {
    let environment = state
        .config
        .environment(env)
        .map(|e| e.name.clone())
        .ok_or(TokenError::UnknownEnvironment)?;
    let body = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            TokenError::TooLarge
        } else {
            TokenError::InvalidRequest(format!(
                "could not read the request body: {}",
                e.body_text()
            ))
        }
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let params = parse_token_body(content_type, &body)?;
    check(&params)?;
    let authorization =
        match headers.get(header::AUTHORIZATION) {
            Some(v) => Some(v.to_str().map_err(|_| {
                TokenError::InvalidRequest("Authorization header is not ASCII".into())
            })?),
            None => None,
        };
    let credentials = resolve_credentials(authorization, &params, environment.as_str())?;
    Ok(ClientRequest {
        environment,
        params,
        credentials,
    })
}

/// The grant's collaborators for `environment`.
pub(super) fn grant_context<'a>(
    state: &'a AppState,
    environment: &EnvironmentName,
    source: SourceAddress,
) -> Result<GrantContext<'a>, TokenError> {
    let keys = state
        .keys
        .get(environment)
        .ok_or(TokenError::TemporarilyUnavailable)?;
    Ok(GrantContext {
        config: &state.config,
        store: state.store.as_ref(),
        hasher: &state.hasher,
        keys,
        clock: state.clock.as_ref(),
        usage: &state.usage,
        cache: &state.cache,
        changes: &state.changes,
        limiter: &state.limiter,
        quota: &state.quota,
        source: source.0,
    })
}

//! The extractor of the client-authenticated OAuth endpoints (token, introspection,
//! revocation): resolves the environment, reads and parses the body (form or JSON).
//! Credentials are picked by [`OAuthRequest::credentials`] once the endpoint has checked
//! its parameters, so a malformed request is refused before any authentication work.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Request};
use axum::http::{StatusCode, header};
use std::sync::Arc;

use super::client_auth::resolve_credentials;
use super::{ClientCredentials, OAuthState, TokenError, TokenParams, parse_token_body};
use crate::domain::EnvironmentName;

/// A parsed, not yet authenticated request to an OAuth endpoint.
pub struct OAuthRequest {
    /// The environment of the endpoint called.
    pub environment: EnvironmentName,
    /// The body's parameters.
    pub params: TokenParams,
    authorization: Option<String>,
}

impl OAuthRequest {
    /// The client's credentials (RFC 6749 §2.3: exactly one method).
    pub fn credentials(&self) -> Result<ClientCredentials, TokenError> {
        resolve_credentials(
            self.authorization.as_deref(),
            &self.params,
            self.environment.as_str(),
        )
    }
}

impl<S> FromRequest<S> for OAuthRequest
where
    S: Send + Sync,
    Arc<OAuthState>: FromRef<S>,
{
    type Rejection = TokenError;

    async fn from_request(request: Request, state: &S) -> Result<Self, TokenError> {
        let oauth = Arc::<OAuthState>::from_ref(state);
        let (mut parts, body) = request.into_parts();
        let Path(env) = Path::<String>::from_request_parts(&mut parts, state)
            .await
            .map_err(|_| TokenError::UnknownEnvironment)?;
        let environment = oauth
            .config
            .environment(&env)
            .map(|e| e.name.clone())
            .ok_or(TokenError::UnknownEnvironment)?;
        // The body extractor reads the limits from the extensions, not the headers.
        let headers = std::mem::take(&mut parts.headers);
        let request = Request::from_parts(parts, body);
        let body = Bytes::from_request(request, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
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
        let authorization = match headers.get(header::AUTHORIZATION) {
            Some(v) => Some(v.to_str().map(str::to_owned).map_err(|_| {
                TokenError::InvalidRequest("Authorization header is not ASCII".into())
            })?),
            None => None,
        };
        Ok(Self {
            environment,
            params,
            authorization,
        })
    }
}

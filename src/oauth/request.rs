//! The extractor of the client-authenticated OAuth endpoints (token, introspection,
//! revocation): resolves the environment, reads and parses the body (form or JSON).
//! Credentials are picked by [`OAuthRequest::credentials`] once the endpoint has checked
//! its parameters, so a malformed request is refused before any authentication work.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use super::client_auth::{Credentials, parse_credentials};
use super::params::{TokenParams, parse_token_body};
use super::{OAuthState, TokenError};
use crate::domain::EnvironmentName;

/// A parsed, not yet authenticated request to an OAuth endpoint.
pub struct OAuthRequest {
    /// The environment of the endpoint called.
    pub environment: EnvironmentName,
    /// The body's parameters.
    pub params: TokenParams,
    /// The `Authorization` header (its bytes shared with the request's, not copied).
    authorization: Option<HeaderValue>,
}

impl OAuthRequest {
    /// The client's credentials (RFC 6749 §2.3: exactly one method).
    pub fn credentials(&self) -> Result<Credentials, TokenError> {
        let authorization = match &self.authorization {
            Some(value) => Some(value.to_str().map_err(|_| {
                TokenError::InvalidRequest("Authorization header is not ASCII".into())
            })?),
            None => None,
        };
        parse_credentials(authorization, &self.params, self.environment.as_str())
    }
}

/// A request refused before its client was looked at, with the environment when the
/// path named a served one (for the metrics' `env` label).
#[derive(Debug)]
pub struct Rejected {
    /// Why.
    pub error: TokenError,
    /// The environment of the endpoint, when served.
    pub environment: Option<EnvironmentName>,
}

impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        self.error.into_response()
    }
}

impl<S> FromRequest<S> for OAuthRequest
where
    S: Send + Sync,
    Arc<OAuthState>: FromRef<S>,
{
    type Rejection = Rejected;

    async fn from_request(request: Request, state: &S) -> Result<Self, Rejected> {
        let oauth = Arc::<OAuthState>::from_ref(state);
        let (mut parts, body) = request.into_parts();
        let unknown = || Rejected {
            error: TokenError::UnknownEnvironment,
            environment: None,
        };
        // The routes' one parameter, `{env}`, read without copying it.
        let params = RawPathParams::from_request_parts(&mut parts, state)
            .await
            .map_err(|_| unknown())?;
        let environment = params
            .iter()
            .next()
            .and_then(|(_, env)| oauth.config.environment(env))
            .map(|e| e.name.clone())
            .ok_or_else(unknown)?;
        let rejected = |error| Rejected {
            error,
            environment: Some(environment.clone()),
        };
        // The body extractor reads the limits from the extensions, not the headers.
        let mut headers = std::mem::take(&mut parts.headers);
        let request = Request::from_parts(parts, body);
        let body = Bytes::from_request(request, state).await.map_err(|e| {
            rejected(if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                TokenError::TooLarge
            } else {
                TokenError::InvalidRequest(format!(
                    "could not read the request body: {}",
                    e.body_text()
                ))
            })
        })?;
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let params = parse_token_body(content_type, &body).map_err(rejected)?;
        let authorization = headers.remove(header::AUTHORIZATION);
        Ok(Self {
            environment,
            params,
            authorization,
        })
    }
}

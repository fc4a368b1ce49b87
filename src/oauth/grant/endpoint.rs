//! `POST /{env}/oauth2/token`: check the parameters, run the grant, answer (RFC 6749 §5.1).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::io::Write;
use std::sync::Arc;

use super::{Grant, IssuedToken, TokenRequest, issue_token};
use crate::oauth::request::{OAuthRequest, Rejected};
use crate::oauth::{OAuthState, TokenError};
use crate::web::SourceAddress;

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
    // The grant's parameters are checked before any authentication work.
    let grant = Grant::parse(&request.params)?;
    let credentials = request.credentials()?;
    let token_request = TokenRequest {
        environment: request.environment,
        credentials,
        grant,
    };
    let issued = issue_token(oauth, token_request, source).await?;
    Ok(token_response(&issued))
}

/// RFC 6749 §5.1, written straight into one buffer: the token is base64url and dots, so
/// only the scope needs JSON escaping.
fn token_response(issued: &IssuedToken) -> Response {
    let mut body = Vec::with_capacity(issued.access_token.len() + issued.scope.len() + 96);
    body.extend_from_slice(br#"{"access_token":""#);
    body.extend_from_slice(issued.access_token.as_bytes());
    body.extend_from_slice(br#"","expires_in":"#);
    // Writing into a Vec cannot fail.
    let _ = write!(body, "{}", issued.expires_in);
    body.extend_from_slice(br#","scope":"#);
    let _ = serde_json::to_writer(&mut body, &*issued.scope);
    body.extend_from_slice(br#","token_type":"Bearer"}"#);
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            // RFC 6749 §5.1: responses carrying tokens MUST NOT be cached.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

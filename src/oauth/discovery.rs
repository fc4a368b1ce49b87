//! Discovery: the JWKS (RFC 7517 §5) and authorization server metadata (RFC 8414 §2).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use std::sync::Arc;

use super::OAuthState;
use super::client_auth::{ALGORITHMS, AuthMethod};
use super::grant::GrantType;
use crate::web::errors;

/// The names of every grant type Keymint accepts.
pub fn grant_types() -> Vec<&'static str> {
    GrantType::ALL.into_iter().map(GrantType::name).collect()
}

/// The names of every client-authentication method Keymint accepts (the same for the
/// token, introspection and revocation endpoints).
pub fn auth_methods() -> Vec<&'static str> {
    AuthMethod::ALL.into_iter().map(AuthMethod::name).collect()
}

/// The algorithms a client assertion may be signed with.
pub fn assertion_algs() -> Vec<String> {
    ALGORITHMS.iter().map(|a| format!("{a:?}")).collect()
}

/// How long gateways may cache the JWKS and metadata: the signing-key publish delay, so a
/// validator that honours it has seen a new key before it signs anything.
fn max_age(state: &OAuthState) -> HeaderValue {
    let value = format!(
        "public, max-age={}",
        state.config.signing_publish_delay.as_secs()
    );
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("public, max-age=300"))
}

/// `GET /{env}/.well-known/jwks.json`.
pub async fn jwks(State(state): State<Arc<OAuthState>>, Path(env): Path<String>) -> Response {
    let Some(keys) = state
        .config
        .environment(&env)
        .and_then(|e| state.keys.get(&e.name))
    else {
        return not_found();
    };
    cached_json(&state, keys.jwks_json.clone())
}

/// RFC 8414 metadata, served at all three contract paths.
pub async fn metadata(State(state): State<Arc<OAuthState>>, Path(env): Path<String>) -> Response {
    let Some(environment) = state.config.environment(&env) else {
        return not_found();
    };
    let issuer = state.config.issuer(&environment.name);
    let algs: Vec<&str> = state
        .keys
        .get(&environment.name)
        .map(|k| {
            let mut algs: Vec<&str> = k.published.iter().map(|key| key.alg().as_str()).collect();
            algs.dedup();
            algs
        })
        .unwrap_or_default();
    let doc = serde_json::json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "grant_types_supported": grant_types(),
        // RFC 8414 §2 makes this REQUIRED; there is no authorization endpoint, so none.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": auth_methods(),
        // RFC 8414 §2: REQUIRED with private_key_jwt; `none` is never listed.
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs(),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "introspection_endpoint_auth_methods_supported": auth_methods(),
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs(),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "revocation_endpoint_auth_methods_supported": auth_methods(),
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs(),
        "access_token_signing_alg_values_supported": algs,
        // Read by OpenID-Connect-style discovery clients that only look for this name.
        "id_token_signing_alg_values_supported": algs,
    });
    cached_json(&state, doc.to_string())
}

fn cached_json(state: &OAuthState, body: String) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, max_age(state)),
        ],
        body,
    )
        .into_response()
}

fn not_found() -> Response {
    errors::oauth(StatusCode::NOT_FOUND, "not_found", "unknown environment")
}

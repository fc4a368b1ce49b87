//! `GET /openapi.json` (OpenAPI 3.1): the document assembled once at start-up from the
//! route table ([`super::routes::table`], each route with its operation from
//! [`super::operations`]) and the shared schemas.

use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use std::sync::Arc;

/// The document `GET /openapi.json` serves, built once from the route table.
pub struct ApiDocument(pub Value);

/// The OpenAPI document of `operations` (method, path template, operation object), with
/// `server` as the base URL.
pub fn document(
    server: &str,
    operations: impl IntoIterator<Item = (&'static str, &'static str, Value)>,
) -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, operation) in operations {
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[method.to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Keymint",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "OAuth2 client-credentials token issuer: API keys with frozen permissions, per-environment RFC 9068 JWTs.",
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "client_secret_basic": {"type": "http", "scheme": "basic", "description": "clientId:clientSecret (or client_id/client_secret in the body)"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
            "schemas": schemas(),
        },
    })
}

fn schemas() -> Value {
    let string = json!({"type": "string", "maxLength": 4096});
    json!({
        "TokenRequest": {"type": "object", "required": ["grant_type"], "properties": {
            "grant_type": {"type": "string", "enum": crate::oauth::discovery::grant_types()},
            "scope": string, "audience": string, "resource": string,
            "client_id": string, "client_secret": string,
            "client_assertion_type": {"type": "string", "enum": [crate::oauth::client_auth::JWT_BEARER]},
            "client_assertion": {"type": "string", "maxLength": 8192},
        }},
        "TokenReference": {"type": "object", "required": ["token"], "properties": {
            "token": string, "token_type_hint": string, "client_id": string, "client_secret": string,
            "client_assertion_type": {"type": "string", "enum": [crate::oauth::client_auth::JWT_BEARER]},
            "client_assertion": {"type": "string", "maxLength": 8192},
        }},
        "TokenResponse": {"type": "object", "required": ["access_token", "token_type", "expires_in", "scope"], "properties": {
            "access_token": {"type": "string"}, "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": {"type": "integer"}, "scope": {"type": "string"},
        }},
        "OAuthError": {"type": "object", "required": ["error"], "properties": {
            "error": {"type": "string"}, "error_description": {"type": "string"},
        }},
        "Introspection": {"type": "object", "required": ["active"], "properties": {
            "active": {"type": "boolean"}, "scope": {"type": "string"}, "client_id": {"type": "string"},
            "sub": {"type": "string"}, "aud": {"type": "string"}, "iss": {"type": "string"},
            "exp": {"type": "integer"}, "iat": {"type": "integer"}, "nbf": {"type": "integer"},
            "jti": {"type": "string"}, "token_type": {"type": "string"}, "env": {"type": "string"},
            "permissions": {"type": "array", "items": {"type": "string"}},
        }},
        "JwkSet": {"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array", "items": {"type": "object"}}}},
        "Metadata": {"type": "object", "required": ["issuer", "token_endpoint", "jwks_uri"]},
        "GraphQlRequest": {"type": "object", "required": ["query"], "properties": {
            "query": {"type": "string"}, "variables": {"type": "object"}, "operationName": {"type": "string"},
        }},
        "GraphQlResponse": {"type": "object", "properties": {"data": {}, "errors": {"type": "array"}}},
        "UserEvent": {"type": "object", "required": ["type", "data"], "properties": {
            "type": {"type": "string", "enum": ["user.upserted", "user.deactivated", "user.reactivated"]},
            "data": {"type": "object"},
        }},
    })
}

/// `GET /openapi.json`.
pub async fn serve(State(document): State<Arc<ApiDocument>>) -> impl IntoResponse {
    axum::Json(document.0.clone())
}

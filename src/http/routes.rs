//! The route table: every HTTP route once, with its handler and its description. The
//! router and `GET /openapi.json` (OpenAPI 3.1) are both generated from it, so the
//! document cannot drift from what is served.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get, post};
use serde_json::{Value, json};

use super::health;
use crate::http::AppState;
use crate::{events, graphql, metrics, oauth};

/// One method on one path.
pub struct Route {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path template (`{env}` is an environment name).
    pub path: &'static str,
    /// The handler.
    pub handler: MethodRouter<AppState>,
    /// The OpenAPI operation object.
    pub operation: Value,
}

fn route(
    method: &'static str,
    path: &'static str,
    handler: MethodRouter<AppState>,
    operation: Value,
) -> Route {
    Route {
        method,
        path,
        handler,
        operation,
    }
}

/// `{"$ref": "#/components/schemas/<name>"}`.
fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn content(media: &str, schema: Value) -> Value {
    json!({ media: {"schema": schema} })
}

/// A request body accepted as a form or as JSON (the OAuth endpoints).
fn oauth_body(schema_name: &str) -> Value {
    let mut body = content("application/x-www-form-urlencoded", schema(schema_name));
    body["application/json"] = json!({"schema": schema(schema_name)});
    json!({"required": true, "content": body})
}

fn oauth_error(description: &str) -> Value {
    json!({"description": description, "content": content("application/json", schema("OAuthError"))})
}

/// The responses every OAuth endpoint shares.
fn oauth_failures(mut responses: Value) -> Value {
    for (code, description) in [
        ("400", "malformed request (RFC 6749 §5.2)"),
        ("401", "client authentication failed (`invalid_client`)"),
        ("404", "unknown environment"),
        ("413", "request body over 64 KiB"),
        (
            "429",
            "source address locked after failed authentications, or key over its quota",
        ),
        ("431", "request headers over 16 KiB"),
        (
            "503",
            "temporarily unavailable (database down, argon2 overloaded); see Retry-After",
        ),
    ] {
        responses[code] = oauth_error(description);
    }
    responses
}

/// Every route Keymint serves.
pub fn table() -> Vec<Route> {
    let env = json!([{"name": "env", "in": "path", "required": true,
        "description": "environment name (KEYMINT_ENVIRONMENTS)", "schema": {"type": "string"}}]);
    let client_auth = json!([{"client_secret_basic": []}, {}]);
    vec![
        route(
            "POST",
            "/{env}/oauth2/token",
            post(oauth::token),
            json!({
                "tags": ["oauth"], "summary": "Client-credentials grant (RFC 6749 §4.4); RFC 9068 access token",
                "parameters": env, "security": client_auth,
                "requestBody": oauth_body("TokenRequest"),
                "responses": oauth_failures(json!({
                    "200": {"description": "token issued", "content": content("application/json", schema("TokenResponse"))}
                })),
            }),
        ),
        route(
            "POST",
            "/{env}/oauth2/introspect",
            post(oauth::introspect),
            json!({
                "tags": ["oauth"], "summary": "Token introspection (RFC 7662); the caller's key needs IntrospectToken",
                "parameters": env, "security": client_auth,
                "requestBody": oauth_body("TokenReference"),
                "responses": oauth_failures(json!({
                    "200": {"description": "{\"active\": false} or the token's claims", "content": content("application/json", schema("Introspection"))},
                    "403": oauth_error("the caller's key lacks IntrospectToken"),
                })),
            }),
        ),
        route(
            "POST",
            "/{env}/oauth2/revoke",
            post(oauth::revoke),
            json!({
                "tags": ["oauth"], "summary": "Token revocation (RFC 7009)",
                "parameters": env, "security": client_auth,
                "requestBody": oauth_body("TokenReference"),
                "responses": oauth_failures(json!({"200": {"description": "revoked, or unknown (RFC 7009 §2.2)"}})),
            }),
        ),
        route(
            "GET",
            "/{env}/.well-known/jwks.json",
            get(oauth::jwks),
            json!({
                "tags": ["discovery"], "summary": "Public signing keys of the environment (RFC 7517)",
                "parameters": env,
                "responses": {"200": {"description": "JWK set", "content": content("application/json", schema("JwkSet"))},
                              "404": oauth_error("unknown environment")},
            }),
        ),
        route(
            "GET",
            "/.well-known/oauth-authorization-server/{env}",
            get(oauth::metadata),
            metadata_operation(&env),
        ),
        route(
            "GET",
            "/{env}/.well-known/oauth-authorization-server",
            get(oauth::metadata),
            metadata_operation(&env),
        ),
        route(
            "GET",
            "/{env}/.well-known/openid-configuration",
            get(oauth::metadata),
            metadata_operation(&env),
        ),
        route(
            "GET",
            "/{env}/graphql",
            get(graphql::explorer),
            json!({
                "tags": ["management"], "summary": "Interactive GraphQL explorer (HTML)", "parameters": env,
                "responses": {"200": {"description": "explorer page", "content": {"text/html": {}}}},
            }),
        ),
        route(
            "POST",
            "/{env}/graphql",
            post(graphql::execute),
            json!({
                "tags": ["management"], "summary": "Management API (GraphQL; see the contract's operations)",
                "parameters": env, "security": [{"bearer": []}],
                "requestBody": {"required": true, "content": content("application/json", schema("GraphQlRequest"))},
                "responses": {"200": {"description": "GraphQL response (errors carry extensions.code)",
                                      "content": content("application/json", schema("GraphQlResponse"))}},
            }),
        ),
        route(
            "POST",
            "/hooks/user-events",
            post(events::user_events),
            json!({
                "tags": ["events"], "summary": "User-lifecycle webhook (Standard Webhooks signature)",
                "parameters": [
                    {"name": "webhook-id", "in": "header", "required": true, "schema": {"type": "string"}},
                    {"name": "webhook-timestamp", "in": "header", "required": true, "schema": {"type": "string"}},
                    {"name": "webhook-signature", "in": "header", "required": true, "schema": {"type": "string"}},
                ],
                "requestBody": {"required": true, "content": content("application/json", schema("UserEvent"))},
                "responses": {
                    "200": {"description": "applied (or already applied)"},
                    "400": {"description": "malformed body"}, "401": {"description": "bad signature or timestamp"},
                    "404": {"description": "webhook not configured"}, "422": {"description": "unknown event type or invalid data"},
                    "503": {"description": "database unavailable; retry"},
                },
            }),
        ),
        route(
            "GET",
            "/metrics",
            get(metrics::metrics),
            json!({
                "tags": ["operations"], "summary": "Prometheus text exposition",
                "responses": {"200": {"description": "metrics", "content": {"text/plain": {}}}},
            }),
        ),
        route(
            "GET",
            "/healthz",
            get(health::healthz),
            json!({
                "tags": ["operations"], "summary": "Liveness",
                "responses": {"200": {"description": "the process answers", "content": {"text/plain": {}}}},
            }),
        ),
        route(
            "GET",
            "/readyz",
            get(health::readyz),
            json!({
                "tags": ["operations"], "summary": "Readiness: database, signing keys, notifications",
                "responses": {"200": {"description": "ready"}, "503": {"description": "not ready, with the reasons"}},
            }),
        ),
        route(
            "GET",
            "/openapi.json",
            get(openapi),
            json!({
                "tags": ["operations"], "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
            }),
        ),
    ]
}

fn metadata_operation(env: &Value) -> Value {
    json!({
        "tags": ["discovery"], "summary": "Authorization server metadata (RFC 8414)", "parameters": env,
        "responses": {"200": {"description": "metadata", "content": content("application/json", schema("Metadata"))},
                      "404": oauth_error("unknown environment")},
    })
}

/// The OpenAPI document of `table()`, with `server` as the base URL.
pub fn document(server: &str) -> Value {
    let mut paths = serde_json::Map::new();
    for Route {
        method,
        path,
        operation,
        ..
    } in table()
    {
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
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "scope": string, "audience": string, "resource": string,
            "client_id": string, "client_secret": string,
        }},
        "TokenReference": {"type": "object", "required": ["token"], "properties": {
            "token": string, "token_type_hint": string, "client_id": string, "client_secret": string,
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
async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    axum::Json(document(&state.config.public_url))
}

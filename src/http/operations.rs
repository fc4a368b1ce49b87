//! The OpenAPI operation object of each route (what it takes, what it answers), one
//! function per route; [`super::routes::table`] pairs each with its handler and
//! [`super::openapi`] assembles them into the document.

use serde_json::{Value, json};

/// The `{env}` path parameter.
pub fn env_parameter() -> Value {
    json!([{"name": "env", "in": "path", "required": true,
        "description": "environment name (KEYMINT_ENVIRONMENTS)", "schema": {"type": "string"}}])
}

/// Client authentication of the OAuth endpoints.
fn client_auth() -> Value {
    json!([{"client_secret_basic": []}, {}])
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

/// `landing`.
pub fn landing() -> Value {
    json!({
        "tags": ["discovery"], "summary": "Where to start: environments (issuer, token endpoint, metadata, explorer) and this document",
        "responses": {"200": {"description": "links", "content": {"application/json": {}}}},
    })
}

/// `token`.
pub fn token(env: &Value) -> Value {
    json!({
        "tags": ["oauth"], "summary": "Client-credentials grant (RFC 6749 §4.4); RFC 9068 access token",
        "parameters": env, "security": client_auth(),
        "requestBody": oauth_body("TokenRequest"),
        "responses": oauth_failures(json!({
            "200": {"description": "token issued", "content": content("application/json", schema("TokenResponse"))}
        })),
    })
}

/// `introspect`.
pub fn introspect(env: &Value) -> Value {
    json!({
        "tags": ["oauth"], "summary": "Token introspection (RFC 7662); the caller's key needs IntrospectToken",
        "parameters": env, "security": client_auth(),
        "requestBody": oauth_body("TokenReference"),
        "responses": oauth_failures(json!({
            "200": {"description": "{\"active\": false} or the token's claims", "content": content("application/json", schema("Introspection"))},
            "403": oauth_error("the caller's key lacks IntrospectToken"),
        })),
    })
}

/// `revoke`.
pub fn revoke(env: &Value) -> Value {
    json!({
        "tags": ["oauth"], "summary": "Token revocation (RFC 7009)",
        "parameters": env, "security": client_auth(),
        "requestBody": oauth_body("TokenReference"),
        "responses": oauth_failures(json!({"200": {"description": "revoked, or unknown (RFC 7009 §2.2)"}})),
    })
}

/// `jwks`.
pub fn jwks(env: &Value) -> Value {
    json!({
        "tags": ["discovery"], "summary": "Public signing keys of the environment (RFC 7517)",
        "parameters": env,
        "responses": {"200": {"description": "JWK set", "content": content("application/json", schema("JwkSet"))},
                      "404": oauth_error("unknown environment")},
    })
}

/// `status_list`.
pub fn status_list(env: &Value) -> Value {
    let mut parameters = env.as_array().cloned().unwrap_or_default();
    parameters.push(json!({"name": "n", "in": "path", "required": true,
        "description": "the list's number, from 1 (tokens name it in status.status_list.uri)",
        "schema": {"type": "integer", "minimum": 1}}));
    json!({
        "tags": ["discovery"], "summary": "Token status list (draft-ietf-oauth-status-list): one bit per key credential, 1 = no longer valid",
        "parameters": parameters,
        "responses": {"200": {"description": "a statuslist+jwt, signed with the environment's keys (JWKS)",
                              "content": {"application/statuslist+jwt": {"schema": {"type": "string"}}}},
                      "404": oauth_error("unknown environment or list"),
                      "503": oauth_error("the list cannot be confirmed current (store unreachable); retry")},
    })
}

/// `explorer`.
pub fn explorer(env: &Value) -> Value {
    json!({
        "tags": ["management"], "summary": "Interactive GraphQL explorer (HTML)", "parameters": env,
        "responses": {"200": {"description": "explorer page", "content": {"text/html": {}}}},
    })
}

/// `graphql`.
pub fn graphql(env: &Value) -> Value {
    json!({
        "tags": ["management"], "summary": "Management API (GraphQL; operations and permissions in docs/reference.md)",
        "parameters": env, "security": [{"bearer": []}],
        "requestBody": {"required": true, "content": content("application/json", schema("GraphQlRequest"))},
        "responses": {"200": {"description": "GraphQL response (errors carry extensions.code)",
                              "content": content("application/json", schema("GraphQlResponse"))}},
    })
}

/// `user_events`.
pub fn user_events() -> Value {
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
    })
}

/// A SCIM 2.0 operation (RFC 7644): bodies and answers are `application/scim+json`.
pub fn scim(summary: &str) -> Value {
    json!({
        "tags": ["scim"], "summary": summary,
        "security": [{"bearer": []}],
        "responses": {
            "200": {"description": "the resource or list", "content": {"application/scim+json": {}}},
            "201": {"description": "created", "content": {"application/scim+json": {}}},
            "204": {"description": "deleted"},
            "400": {"description": "invalid filter, syntax, path or value (RFC 7644 §3.12)"},
            "401": {"description": "missing or wrong bearer token"},
            "404": {"description": "no such resource, or SCIM is off (KEYMINT_SCIM_TOKEN unset)"},
            "409": {"description": "userName taken (uniqueness)"},
            "503": {"description": "database unavailable; retry"},
        },
    })
}

/// A SCIM operation on one resource, named by the path parameter `param`.
pub fn scim_at(summary: &str, param: &str) -> Value {
    let mut operation = scim(summary);
    operation["parameters"] =
        json!([{"name": param, "in": "path", "required": true, "schema": {"type": "string"}}]);
    operation
}

/// `metrics`.
pub fn metrics() -> Value {
    json!({
        "tags": ["operations"], "summary": "Prometheus text exposition",
        "responses": {"200": {"description": "metrics", "content": {"text/plain": {}}}},
    })
}

/// `healthz`.
pub fn healthz() -> Value {
    json!({
        "tags": ["operations"], "summary": "Liveness",
        "responses": {"200": {"description": "the process answers", "content": {"text/plain": {}}}},
    })
}

/// `readyz`.
pub fn readyz() -> Value {
    json!({
        "tags": ["operations"], "summary": "Readiness: database, signing keys, notifications",
        "responses": {"200": {"description": "ready"}, "503": {"description": "not ready, with the reasons"}},
    })
}

/// `this_document`.
pub fn this_document() -> Value {
    json!({
        "tags": ["operations"], "summary": "This document",
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
    })
}

/// The metadata routes (all three paths).
pub fn metadata(env: &Value) -> Value {
    json!({
        "tags": ["discovery"], "summary": "Authorization server metadata (RFC 8414)", "parameters": env,
        "responses": {"200": {"description": "metadata", "content": content("application/json", schema("Metadata"))},
                      "404": oauth_error("unknown environment")},
    })
}

//! The management API over HTTP: the contract's four operations sent verbatim and every
//! error code; the helpers the other GraphQL stories share (`graphql_keys.rs`:
//! escalation, etags, grace periods, listings; `graphql_access.rs`: the audit trail,
//! hostile queries, the explorer, session tokens).

use serde_json::{Value, json};

use crate::app::{Backend, Key, TestApp};

crate::both_backends!(graphql:
    contract_operations_work_verbatim,
    every_error_code_is_reachable,
);

pub const CREATE: &str =
    "mutation CreateAPIKey { createApiKey { apikey { clientId clientSecret } } }";
pub const LIST: &str =
    "query APIKeys { apiKeys { edges { node { clientId clientSecret id _etag } } } }";
pub const UPDATE: &str = "mutation UpdateAPIKey($input: APIKeyInput!) { updateApiKey(input: $input) { apikey { clientId clientSecret enabled } } }";
pub const DELETE: &str = "mutation DeleteAPIKey($input: APIKeyInput!) { deleteApiKey(input: $input) { apikey { clientId } } }";

pub const MANAGER: &[&str] = &[
    "CreateAPIKey",
    "UpdateAPIKey",
    "DeleteAPIKey",
    "runs:read",
    "runs:write",
];

/// The `extensions.code` of the first error, if any.
pub fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// alice with manager permissions and a bootstrap key's access token.
pub async fn manager(app: &TestApp) -> (Key, String) {
    app.user("alice", MANAGER).await;
    let key = app.key("alice", "production").await;
    let bearer = app.access_token("production", &key).await;
    (key, bearer)
}

pub fn list_nodes(body: &Value) -> Vec<Value> {
    body["data"]["apiKeys"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

pub async fn etag_of(app: &TestApp, bearer: &str, client_id: &str) -> String {
    let (_, body) = app
        .graphql("production", Some(bearer), LIST, Value::Null)
        .await;
    list_nodes(&body)
        .into_iter()
        .find(|n| n["clientId"] == client_id)
        .unwrap()["_etag"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn contract_operations_work_verbatim(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (bootstrap, bearer) = manager(&app).await;

    let (status, body) = app
        .graphql("production", Some(&bearer), CREATE, Value::Null)
        .await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body}");
    let created = &body["data"]["createApiKey"]["apikey"];
    let key = Key {
        client_id: created["clientId"].as_str().unwrap().into(),
        secret: created["clientSecret"].as_str().unwrap().into(),
    };
    assert!(key.secret.starts_with("kms_"));
    assert_eq!(
        app.token_status("production", &key).await,
        200,
        "the new key mints tokens"
    );

    let (_, body) = app
        .graphql("production", Some(&bearer), LIST, Value::Null)
        .await;
    let nodes = list_nodes(&body);
    let ids: Vec<&str> = nodes
        .iter()
        .map(|n| n["clientId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [bootstrap.client_id.as_str(), key.client_id.as_str()]);
    assert!(
        nodes
            .iter()
            .all(|n| n["clientSecret"].is_null() && n["id"].is_string() && n["_etag"].is_string())
    );

    let etag = etag_of(&app, &bearer, &key.client_id).await;
    let vars = json!({"input": {"clientId": key.client_id, "enabled": false, "_etag": etag}});
    let (_, body) = app.graphql("production", Some(&bearer), UPDATE, vars).await;
    assert_eq!(
        body["data"]["updateApiKey"]["apikey"],
        json!({"clientId": key.client_id, "clientSecret": null, "enabled": false})
    );
    assert_eq!(app.token_status("production", &key).await, 401);

    let vars =
        json!({"input": {"clientId": key.client_id, "enabled": true, "regenerateSecret": true}});
    let (_, body) = app.graphql("production", Some(&bearer), UPDATE, vars).await;
    let updated = &body["data"]["updateApiKey"]["apikey"];
    assert_eq!(updated["enabled"], true);
    let regenerated = Key {
        client_id: key.client_id.clone(),
        secret: updated["clientSecret"].as_str().unwrap().into(),
    };
    assert_ne!(regenerated.secret, key.secret);
    assert_eq!(
        app.token_status("production", &key).await,
        401,
        "the old secret still works"
    );
    assert_eq!(app.token_status("production", &regenerated).await, 200);

    let etag = etag_of(&app, &bearer, &key.client_id).await;
    let vars = json!({"input": {"clientId": key.client_id, "etag": etag}});
    let (_, body) = app.graphql("production", Some(&bearer), DELETE, vars).await;
    assert_eq!(
        body["data"]["deleteApiKey"]["apikey"]["clientId"],
        key.client_id
    );
    assert_eq!(app.token_status("production", &regenerated).await, 401);
    let (_, body) = app
        .graphql("production", Some(&bearer), LIST, Value::Null)
        .await;
    assert_eq!(list_nodes(&body).len(), 1);
}

pub async fn every_error_code_is_reachable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (bootstrap, bearer) = manager(&app).await;
    app.user("bob", MANAGER).await;
    let bobs = app.key("bob", "production").await;
    let reader = app
        .key_with("alice", "production", Some(&["runs:read"]), None)
        .await;
    let reader_bearer = app.access_token("production", &reader).await;
    let sandbox = app.key("alice", "sandbox").await;
    let sandbox_bearer = app.access_token("sandbox", &sandbox).await;

    let cases: Vec<(&str, Option<&str>, &str, Value, &str)> = vec![
        ("no credentials", None, LIST, Value::Null, "UNAUTHENTICATED"),
        (
            "garbage token",
            Some("not-a-jwt"),
            LIST,
            Value::Null,
            "UNAUTHENTICATED",
        ),
        (
            "token of another environment",
            Some(&sandbox_bearer),
            LIST,
            Value::Null,
            "UNAUTHENTICATED",
        ),
        (
            "missing CreateAPIKey",
            Some(&reader_bearer),
            CREATE,
            Value::Null,
            "FORBIDDEN",
        ),
        (
            "auditEvents without admin",
            Some(&bearer),
            "{ auditEvents { edges { node { action } } } }",
            Value::Null,
            "FORBIDDEN",
        ),
        (
            "unknown key",
            Some(&bearer),
            UPDATE,
            json!({"input": {"clientId": "kmc_nope", "enabled": false}}),
            "NOT_FOUND",
        ),
        (
            "another user's key",
            Some(&bearer),
            UPDATE,
            json!({"input": {"clientId": bobs.client_id, "enabled": false}}),
            "NOT_FOUND",
        ),
        (
            "stale etag",
            Some(&bearer),
            UPDATE,
            json!({"input": {"clientId": bootstrap.client_id, "enabled": true, "_etag": "stale"}}),
            "CONFLICT",
        ),
        (
            "delete without etag",
            Some(&bearer),
            DELETE,
            json!({"input": {"clientId": bootstrap.client_id}}),
            "BAD_USER_INPUT",
        ),
        (
            "bad expiresAt",
            Some(&bearer),
            "mutation { createApiKey(input: {expiresAt: \"tomorrow\"}) { apikey { clientId } } }",
            Value::Null,
            "BAD_USER_INPUT",
        ),
        (
            "page too large",
            Some(&bearer),
            "{ apiKeys(first: 1000) { totalCount } }",
            Value::Null,
            "BAD_USER_INPUT",
        ),
        (
            "grace without regeneration",
            Some(&bearer),
            UPDATE,
            json!({"input": {"clientId": bootstrap.client_id, "secretGracePeriodSeconds": 60}}),
            "BAD_USER_INPUT",
        ),
        (
            "grace beyond a day",
            Some(&bearer),
            UPDATE,
            json!({"input": {"clientId": bootstrap.client_id, "regenerateSecret": true, "secretGracePeriodSeconds": 86401}}),
            "BAD_USER_INPUT",
        ),
    ];
    for (name, bearer, query, vars, expected) in cases {
        let (status, body) = app.graphql("production", bearer, query, vars).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(code(&body), Some(expected), "{name}: {body}");
        assert!(
            !body.to_string().contains("kms_"),
            "{name}: a secret leaked"
        );
    }
    // Nothing above changed bob's key or the bootstrap key.
    assert_eq!(app.token_status("production", &bobs).await, 200);
    assert_eq!(app.token_status("production", &bootstrap).await, 200);

    // A token whose key has since been disabled is refused.
    app.state
        .management()
        .set_key_enabled(
            &keymint::domain::ClientId::new(reader.client_id.clone()),
            false,
            None,
        )
        .await
        .unwrap();
    let (_, body) = app
        .graphql("production", Some(&reader_bearer), LIST, Value::Null)
        .await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"));
    // Enabling a key whose owner is inactive is refused.
    app.state
        .management()
        .deactivate_user(&keymint::domain::UserId::parse("bob").unwrap())
        .await
        .unwrap();
    app.user("admin", &["admin", "UpdateAPIKey"]).await;
    let admin = app.key("admin", "production").await;
    let admin_bearer = app.access_token("production", &admin).await;
    let (_, body) = app
        .graphql(
            "production",
            Some(&admin_bearer),
            UPDATE,
            json!({"input": {"clientId": bobs.client_id, "enabled": true}}),
        )
        .await;
    assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
}

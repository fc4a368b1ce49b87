//! The management API over HTTP: the contract's four operations sent verbatim, every
//! error code, no escalation, etags, grace periods, the audit trail, session tokens.

use serde_json::{Value, json};
use std::sync::Arc;

use crate::app::{Backend, Key, TestApp};

crate::both_backends!(graphql:
    contract_operations_work_verbatim,
    every_error_code_is_reachable,
    keys_cannot_mint_stronger_keys,
    concurrent_updates_with_one_etag_have_one_winner,
    regenerating_with_and_without_a_grace_period,
    audit_trail_records_actors_and_is_admin_only,
    last_use_and_expiry_show_in_listings,
    hostile_queries_are_refused,
    the_explorer_page_loads,
    session_tokens_from_the_identity_provider_create_a_first_key,
);

pub const CREATE: &str =
    "mutation CreateAPIKey { createApiKey { apikey { clientId clientSecret } } }";
pub const LIST: &str =
    "query APIKeys { apiKeys { edges { node { clientId clientSecret id _etag } } } }";
pub const UPDATE: &str = "mutation UpdateAPIKey($input: APIKeyInput!) { updateApiKey(input: $input) { apikey { clientId clientSecret enabled } } }";
pub const DELETE: &str = "mutation DeleteAPIKey($input: APIKeyInput!) { deleteApiKey(input: $input) { apikey { clientId } } }";

const MANAGER: &[&str] = &[
    "CreateAPIKey",
    "UpdateAPIKey",
    "DeleteAPIKey",
    "runs:read",
    "runs:write",
];

/// Posts a GraphQL request; returns the HTTP status and the body.
pub async fn gql(
    app: &TestApp,
    env: &str,
    bearer: Option<&str>,
    query: &str,
    variables: Value,
) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url(&format!("/{env}/graphql")))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The `extensions.code` of the first error, if any.
fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

async fn token(app: &TestApp, env: &str, key: &Key) -> String {
    app.mint(env, key).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// alice with manager permissions and a bootstrap key's access token.
async fn manager(app: &TestApp) -> (Key, String) {
    app.user("alice", MANAGER).await;
    let key = app.key("alice", "production").await;
    let bearer = token(app, "production", &key).await;
    (key, bearer)
}

fn list_nodes(body: &Value) -> Vec<Value> {
    body["data"]["apiKeys"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

async fn etag_of(app: &TestApp, bearer: &str, client_id: &str) -> String {
    let (_, body) = gql(app, "production", Some(bearer), LIST, Value::Null).await;
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

    let (status, body) = gql(&app, "production", Some(&bearer), CREATE, Value::Null).await;
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

    let (_, body) = gql(&app, "production", Some(&bearer), LIST, Value::Null).await;
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
    let (_, body) = gql(&app, "production", Some(&bearer), UPDATE, vars).await;
    assert_eq!(
        body["data"]["updateApiKey"]["apikey"],
        json!({"clientId": key.client_id, "clientSecret": null, "enabled": false})
    );
    assert_eq!(app.token_status("production", &key).await, 401);

    let vars =
        json!({"input": {"clientId": key.client_id, "enabled": true, "regenerateSecret": true}});
    let (_, body) = gql(&app, "production", Some(&bearer), UPDATE, vars).await;
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
    let (_, body) = gql(&app, "production", Some(&bearer), DELETE, vars).await;
    assert_eq!(
        body["data"]["deleteApiKey"]["apikey"]["clientId"],
        key.client_id
    );
    assert_eq!(app.token_status("production", &regenerated).await, 401);
    let (_, body) = gql(&app, "production", Some(&bearer), LIST, Value::Null).await;
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
    let reader_bearer = token(&app, "production", &reader).await;
    let sandbox = app.key("alice", "sandbox").await;
    let sandbox_bearer = token(&app, "sandbox", &sandbox).await;

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
        let (status, body) = gql(&app, "production", bearer, query, vars).await;
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
    let (_, body) = gql(&app, "production", Some(&reader_bearer), LIST, Value::Null).await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"));
    // Enabling a key whose owner is inactive is refused.
    app.state
        .management()
        .deactivate_user(&keymint::domain::UserId::parse("bob").unwrap())
        .await
        .unwrap();
    app.user("admin", &["admin", "UpdateAPIKey"]).await;
    let admin = app.key("admin", "production").await;
    let admin_bearer = token(&app, "production", &admin).await;
    let (_, body) = gql(
        &app,
        "production",
        Some(&admin_bearer),
        UPDATE,
        json!({"input": {"clientId": bobs.client_id, "enabled": true}}),
    )
    .await;
    assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
}

pub async fn keys_cannot_mint_stronger_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", MANAGER).await;
    // A key narrowed to CreateAPIKey + runs:read, while alice also holds runs:write.
    let narrow = app
        .key_with(
            "alice",
            "production",
            Some(&["CreateAPIKey", "runs:read"]),
            None,
        )
        .await;
    let bearer = token(&app, "production", &narrow).await;

    let (_, body) = gql(
        &app,
        "production",
        Some(&bearer),
        "mutation { createApiKey { apikey { clientId permissions } } }",
        Value::Null,
    )
    .await;
    assert_eq!(
        body["data"]["createApiKey"]["apikey"]["permissions"],
        json!(["CreateAPIKey", "runs:read"]),
        "{body}"
    );

    let query = "mutation($p: [String!]) { createApiKey(input: {permissions: $p}) { apikey { permissions } } }";
    let body = gql(
        &app,
        "production",
        Some(&bearer),
        query,
        json!({"p": ["runs:write"]}),
    )
    .await
    .1;
    assert_eq!(
        code(&body),
        Some("FORBIDDEN"),
        "asking for more than the calling key holds: {body}"
    );
    let body = gql(
        &app,
        "production",
        Some(&bearer),
        query,
        json!({"p": ["runs:read"]}),
    )
    .await
    .1;
    assert_eq!(
        body["data"]["createApiKey"]["apikey"]["permissions"],
        json!(["runs:read"])
    );

    // The owner loses runs:read: the key still holds it (frozen) but cannot pass it on.
    app.user("alice", &["CreateAPIKey", "UpdateAPIKey", "DeleteAPIKey"])
        .await;
    let body = gql(
        &app,
        "production",
        Some(&bearer),
        query,
        json!({"p": ["runs:read"]}),
    )
    .await
    .1;
    assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
}

pub async fn concurrent_updates_with_one_etag_have_one_winner(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let (bootstrap, bearer) = manager(&app).await;
    let target = app.key("alice", "production").await;
    let etag = etag_of(&app, &bearer, &target.client_id).await;
    let _ = bootstrap;
    let attempts: Vec<_> = (0..6)
        .map(|i| {
            let (app, bearer, client_id, etag) = (
                app.clone(),
                bearer.clone(),
                target.client_id.clone(),
                etag.clone(),
            );
            tokio::spawn(async move {
                let vars =
                    json!({"input": {"clientId": client_id, "enabled": i % 2 == 0, "_etag": etag}});
                gql(&app, "production", Some(&bearer), UPDATE, vars).await.1
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for attempt in attempts {
        let body = attempt.await.unwrap();
        outcomes.push(code(&body).unwrap_or("OK").to_owned());
    }
    assert_eq!(
        outcomes.iter().filter(|o| *o == "OK").count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes.iter().all(|o| o == "OK" || o == "CONFLICT"),
        "{outcomes:?}"
    );
}

async fn regenerate(app: &TestApp, bearer: &str, key: &Key, grace: Option<i64>) -> Key {
    let mut input = json!({"clientId": key.client_id, "regenerateSecret": true});
    if let Some(g) = grace {
        input["secretGracePeriodSeconds"] = json!(g);
    }
    let (_, body) = gql(
        app,
        "production",
        Some(bearer),
        UPDATE,
        json!({"input": input}),
    )
    .await;
    let secret = body["data"]["updateApiKey"]["apikey"]["clientSecret"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    Key {
        client_id: key.client_id.clone(),
        secret: secret.into(),
    }
}

pub async fn regenerating_with_and_without_a_grace_period(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (bootstrap, bearer) = manager(&app).await;
    let key = app.key("alice", "production").await;
    let second = regenerate(&app, &bearer, &key, Some(600)).await;
    assert_eq!(
        app.token_status("production", &key).await,
        200,
        "old secret refused during its grace period"
    );
    assert_eq!(app.token_status("production", &second).await, 200);
    app.clock.advance(time::Duration::seconds(601));
    assert_eq!(
        app.token_status("production", &key).await,
        401,
        "old secret accepted after the grace period"
    );
    assert_eq!(app.token_status("production", &second).await, 200);

    // Ten minutes passed on Keymint's clock: the first bearer token expired.
    let bearer = token(&app, "production", &bootstrap).await;
    let third = regenerate(&app, &bearer, &key, None).await;
    assert_eq!(
        app.token_status("production", &second).await,
        401,
        "without grace the old secret stops at once"
    );
    assert_eq!(app.token_status("production", &third).await, 200);
}

pub async fn audit_trail_records_actors_and_is_admin_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user(
        "root",
        &["admin", "CreateAPIKey", "UpdateAPIKey", "DeleteAPIKey"],
    )
    .await;
    let admin = app.key("root", "production").await;
    let bearer = token(&app, "production", &admin).await;
    let (_, body) = gql(&app, "production", Some(&bearer), CREATE, Value::Null).await;
    let client_id = body["data"]["createApiKey"]["apikey"]["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    gql(
        &app,
        "production",
        Some(&bearer),
        UPDATE,
        json!({"input": {"clientId": client_id, "enabled": false}}),
    )
    .await;
    gql(
        &app,
        "production",
        Some(&bearer),
        UPDATE,
        json!({"input": {"clientId": client_id, "regenerateSecret": true}}),
    )
    .await;
    let etag = etag_of(&app, &bearer, &client_id).await;
    gql(
        &app,
        "production",
        Some(&bearer),
        DELETE,
        json!({"input": {"clientId": client_id, "_etag": etag}}),
    )
    .await;

    let query = "query($c: String) { auditEvents(clientId: $c) { edges { node { action actorUserId actorClientId source requestId reason environment } } } }";
    let (_, body) = gql(
        &app,
        "production",
        Some(&bearer),
        query,
        json!({"c": client_id}),
    )
    .await;
    let nodes: Vec<Value> = body["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    let actions: Vec<&str> = nodes
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "key.created",
            "key.disabled",
            "key.secret_regenerated",
            "key.deleted"
        ]
    );
    for node in &nodes {
        assert_eq!(node["actorUserId"], "root");
        assert_eq!(node["actorClientId"], admin.client_id);
        assert_eq!(node["source"], "graphql");
        assert_eq!(node["environment"], "production");
        assert!(
            node["requestId"]
                .as_str()
                .is_some_and(|r| r.starts_with("req_"))
        );
    }
    assert_eq!(nodes[1]["reason"], "manual");

    // Pagination by cursor, oldest first.
    let (_, page) = gql(&app, "production", Some(&bearer), "{ auditEvents(first: 2) { edges { cursor node { action } } pageInfo { hasNextPage endCursor } } }", Value::Null).await;
    assert_eq!(page["data"]["auditEvents"]["pageInfo"]["hasNextPage"], true);
    let after = page["data"]["auditEvents"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, next) = gql(
        &app,
        "production",
        Some(&bearer),
        "query($a: String) { auditEvents(first: 2, after: $a) { edges { node { action } } } }",
        json!({"a": after}),
    )
    .await;
    assert!(
        next["data"]["auditEvents"]["edges"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
}

pub async fn last_use_and_expiry_show_in_listings(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (bootstrap, bearer) = manager(&app).await;
    let expiring = app
        .key_with(
            "alice",
            "production",
            None,
            Some(app.clock.now_plus(time::Duration::seconds(60))),
        )
        .await;
    keymint::sync::flush_usage(&app.state.sync_task()).await;
    let query = "{ apiKeys { totalCount edges { node { clientId lastUsedAt expiresAt enabled disabledReason ownerId environment permissions name createdAt updatedAt } } } }";
    let (_, body) = gql(&app, "production", Some(&bearer), query, Value::Null).await;
    assert_eq!(body["data"]["apiKeys"]["totalCount"], 2);
    let nodes = list_nodes(&body);
    let boot = nodes
        .iter()
        .find(|n| n["clientId"] == bootstrap.client_id)
        .unwrap();
    assert!(
        boot["lastUsedAt"].is_string(),
        "the bootstrap key minted a token: {boot}"
    );
    assert_eq!(boot["ownerId"], "alice");
    let exp = nodes
        .iter()
        .find(|n| n["clientId"] == expiring.client_id)
        .unwrap();
    assert!(exp["lastUsedAt"].is_null() && exp["expiresAt"].is_string());

    // Time passes: the expiry sweep disables the key with reason `expired`.
    app.clock.advance(time::Duration::seconds(61));
    let swept = TestApp::eventually(std::time::Duration::from_secs(3), || async {
        let (_, body) = gql(&app, "production", Some(&bearer), query, Value::Null).await;
        list_nodes(&body)
            .iter()
            .any(|n| n["clientId"] == expiring.client_id && n["disabledReason"] == "expired")
    })
    .await;
    assert!(swept.is_some(), "expired key not marked");
    assert_eq!(app.token_status("production", &expiring).await, 401);
}

pub async fn hostile_queries_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, bearer) = manager(&app).await;
    let aliases: String = (0..500)
        .map(|i| format!("a{i}: apiKeys {{ totalCount }} "))
        .collect();
    let (status, body) = gql(
        &app,
        "production",
        Some(&bearer),
        &format!("{{ {aliases} }}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("complex"),
        "{body}"
    );
    let deep = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } }";
    let (_, body) = gql(&app, "production", None, deep, Value::Null).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("nested"),
        "{body}"
    );
    let (status, body) = gql(
        &app,
        "production",
        Some(&bearer),
        "{ apiKeys { ",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["errors"].is_array() && body["data"].is_null(),
        "syntax errors are GraphQL errors: {body}"
    );
    let raw = app
        .http
        .post(app.url("/production/graphql"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert!(raw.json::<Value>().await.unwrap()["errors"][0]["message"].is_string());
    // Introspection is on, without credentials too.
    let (_, body) = gql(
        &app,
        "production",
        None,
        "{ __type(name: \"APIKeyInput\") { inputFields { name } } }",
        Value::Null,
    )
    .await;
    let fields: Vec<&str> = body["data"]["__type"]["inputFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"_etag")
            && fields.contains(&"etag")
            && fields.contains(&"secretGracePeriodSeconds"),
        "{fields:?}"
    );
}

pub async fn the_explorer_page_loads(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .http
        .get(app.url("/production/graphql"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(
        html.contains("graphiql") && html.contains("/production/graphql"),
        "{html}"
    );
    assert_eq!(
        app.http
            .get(app.url("/staging/graphql"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

pub async fn session_tokens_from_the_identity_provider_create_a_first_key(backend: Backend) {
    let idp = crate::idp::TestIdp::start().await;
    let app = TestApp::spawn_with(
        backend,
        &[
            ("KEYMINT_USER_TOKEN_ISSUER", crate::idp::ISSUER),
            ("KEYMINT_USER_TOKEN_JWKS_URL", &idp.jwks_url()),
            ("KEYMINT_USER_TOKEN_AUDIENCE", crate::idp::AUDIENCE),
        ],
    )
    .await;
    app.user("carol", &["CreateAPIKey", "runs:read"]).await;

    let session = idp.token("carol", crate::idp::ISSUER);
    let (_, body) = gql(&app, "production", Some(&session), CREATE, Value::Null).await;
    let created = &body["data"]["createApiKey"]["apikey"];
    let first = Key {
        client_id: created["clientId"].as_str().unwrap().into(),
        secret: created["clientSecret"].as_str().unwrap().into(),
    };
    let claims =
        crate::gateway::verify(&app, "production", &token(&app, "production", &first).await)
            .await
            .unwrap();
    assert_eq!(claims["sub"], "carol");
    assert_eq!(claims["permissions"], json!(["CreateAPIKey", "runs:read"]));

    let (_, body) = gql(
        &app,
        "production",
        Some(&idp.token("carol", "https://evil.example")),
        LIST,
        Value::Null,
    )
    .await;
    assert_eq!(
        code(&body),
        Some("UNAUTHENTICATED"),
        "untrusted issuer accepted"
    );
    let (_, body) = gql(
        &app,
        "production",
        Some(&idp.token("mallory", crate::idp::ISSUER)),
        LIST,
        Value::Null,
    )
    .await;
    assert_eq!(
        code(&body),
        Some("UNAUTHENTICATED"),
        "unknown user accepted"
    );
    let stranger = crate::idp::TestIdp::start().await; // signs with a key the IdP never published
    let (_, body) = gql(
        &app,
        "production",
        Some(&stranger.token("carol", crate::idp::ISSUER)),
        LIST,
        Value::Null,
    )
    .await;
    assert_eq!(
        code(&body),
        Some("UNAUTHENTICATED"),
        "unpublished key accepted"
    );

    // The IdP rotates its key: an unknown kid makes Keymint refetch the JWKS (at most
    // every 10 s, measured on Keymint's clock).
    idp.rotate();
    app.clock.advance(time::Duration::seconds(11));
    let (_, body) = gql(
        &app,
        "production",
        Some(&idp.token("carol", crate::idp::ISSUER)),
        LIST,
        Value::Null,
    )
    .await;
    assert!(
        body.get("errors").is_none(),
        "rotated IdP key not picked up: {body}"
    );
    // The stranger's unknown kid came within 10 s of the first fetch: no refetch for it.
    assert_eq!(
        idp.fetches(),
        2,
        "one initial fetch and one after the rotation"
    );
}

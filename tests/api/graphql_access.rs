//! Who may use the management API and how: the admin-only audit trail, hostile queries,
//! the explorer page, session tokens from the identity provider.

use serde_json::{Value, json};

use crate::app::{Backend, Key, TestApp};
use crate::graphql::{CREATE, DELETE, LIST, UPDATE, code, etag_of, manager};

crate::both_backends!(graphql_access:
    audit_trail_records_actors_and_is_admin_only,
    hostile_queries_are_refused,
    the_explorer_page_loads,
    explorers_load_the_schema_with_the_standard_introspection_query,
    a_key_made_before_its_owner_got_a_permission_says_why_it_lacks_it,
    session_tokens_from_the_identity_provider_create_a_first_key,
    admins_see_users_and_others_do_not,
);

pub async fn audit_trail_records_actors_and_is_admin_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user(
        "root",
        &["admin", "CreateAPIKey", "UpdateAPIKey", "DeleteAPIKey"],
    )
    .await;
    let admin = app.key("root", "production").await;
    let bearer = app.access_token("production", &admin).await;
    let (_, body) = app
        .graphql("production", Some(&bearer), CREATE, Value::Null)
        .await;
    let client_id = body["data"]["createApiKey"]["apikey"]["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    app.graphql(
        "production",
        Some(&bearer),
        UPDATE,
        json!({"input": {"clientId": client_id, "enabled": false}}),
    )
    .await;
    app.graphql(
        "production",
        Some(&bearer),
        UPDATE,
        json!({"input": {"clientId": client_id, "regenerateSecret": true}}),
    )
    .await;
    let etag = etag_of(&app, &bearer, &client_id).await;
    app.graphql(
        "production",
        Some(&bearer),
        DELETE,
        json!({"input": {"clientId": client_id, "_etag": etag}}),
    )
    .await;

    let query = "query($c: String) { auditEvents(clientId: $c) { edges { node { action actorUserId actorClientId source requestId reason environment } } } }";
    let (_, body) = app
        .graphql("production", Some(&bearer), query, json!({"c": client_id}))
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
    // totalCount counts the filtered entries, whatever the page size.
    let counted =
        "query($c: String) { auditEvents(clientId: $c, first: 1) { totalCount edges { cursor } } }";
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            counted,
            json!({"c": client_id}),
        )
        .await;
    assert_eq!(body["data"]["auditEvents"]["totalCount"], 4, "{body}");
    assert_eq!(
        body["data"]["auditEvents"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
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
    let (_, page) = app.graphql("production", Some(&bearer), "{ auditEvents(first: 2) { edges { cursor node { action } } pageInfo { hasNextPage endCursor } } }", Value::Null).await;
    assert_eq!(page["data"]["auditEvents"]["pageInfo"]["hasNextPage"], true);
    let after = page["data"]["auditEvents"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, next) = app
        .graphql(
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

pub async fn hostile_queries_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, bearer) = manager(&app).await;
    let aliases: String = (0..500)
        .map(|i| format!("a{i}: apiKeys {{ totalCount }} "))
        .collect();
    let (status, body) = app
        .graphql(
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
    let (_, body) = app.graphql("production", None, deep, Value::Null).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("nested"),
        "{body}"
    );
    let (status, body) = app
        .graphql("production", Some(&bearer), "{ apiKeys { ", Value::Null)
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
    let (_, body) = app
        .graphql(
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

/// The introspection query GraphiQL and other explorers send (graphql-js'
/// `getIntrospectionQuery`, `TypeRef` nine `ofType` deep) is deeper than the operation
/// limit. An authenticated caller gets it answered; without credentials, and mixed with
/// an ordinary field, the depth limit still refuses it.
pub async fn explorers_load_the_schema_with_the_standard_introspection_query(backend: Backend) {
    const QUERY: &str = include_str!("fixtures/introspection.graphql");
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let bearer = app
        .access_token("production", &app.key("alice", "production").await)
        .await;
    let (status, body) = app
        .graphql("production", Some(&bearer), QUERY, Value::Null)
        .await;
    assert_eq!(status, 200);
    assert!(body["errors"].is_null(), "{body}");
    let names: Vec<&str> = body["data"]["__schema"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"APIKey"), "{names:?}");

    let (_, body) = app.graphql("production", None, QUERY, Value::Null).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.to_lowercase().contains("nested")),
        "unauthenticated: {body}"
    );
    let deep_keys = "{ apiKeys(first: 1) { edges { node { clientId } } } \
        __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } }";
    let (_, body) = app
        .graphql("production", Some(&bearer), deep_keys, Value::Null)
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.to_lowercase().contains("nested")),
        "an ordinary field beside introspection keeps the limit: {body}"
    );
}

/// Keys are frozen at creation: a key made before its owner got `CreateAPIKey` is refused,
/// and the refusal says why and what to do, instead of only naming the permission.
pub async fn a_key_made_before_its_owner_got_a_permission_says_why_it_lacks_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    app.user("alice", &["runs:read", "CreateAPIKey"]).await;
    let bearer = app.access_token("production", &key).await;
    let (_, body) = app
        .graphql("production", Some(&bearer), CREATE, Value::Null)
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("requires the CreateAPIKey permission")
            && message.contains("a key keeps the permissions its owner had when it was created"),
        "{body}"
    );
    // A caller whose owner lacks it too gets the plain refusal.
    app.user("bob", &["runs:read"]).await;
    let bobs = app
        .access_token("production", &app.key("bob", "production").await)
        .await;
    let (_, body) = app
        .graphql("production", Some(&bobs), CREATE, Value::Null)
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("requires the CreateAPIKey permission")
            && !message.contains("frozen")
            && !message.contains("keeps"),
        "{body}"
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
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'self'")
    );
    let html = response.text().await.unwrap();
    assert!(
        html.contains("graphiql") && html.contains("/production/graphql"),
        "{html}"
    );
    // Every script and stylesheet comes from this server, and each is served.
    for src in html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/console/assets/"))
    {
        let asset = app.http.get(app.url(src)).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{src}");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "an outside asset: {html}"
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
    let (_, body) = app
        .graphql("production", Some(&session), CREATE, Value::Null)
        .await;
    let created = &body["data"]["createApiKey"]["apikey"];
    let first = Key {
        client_id: created["clientId"].as_str().unwrap().into(),
        secret: created["clientSecret"].as_str().unwrap().into(),
    };
    let claims = app
        .verify("production", &app.access_token("production", &first).await)
        .await
        .unwrap();
    assert_eq!(claims["sub"], "carol");
    assert_eq!(claims["permissions"], json!(["CreateAPIKey", "runs:read"]));

    let (_, body) = app
        .graphql(
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
    let (_, body) = app
        .graphql(
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
    let (_, body) = app
        .graphql(
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
    let (_, body) = app
        .graphql(
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

/// `users` and `user(id:)` show the directory as Keymint mirrors it, to admins only.
pub async fn admins_see_users_and_others_do_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("root", &["admin"]).await;
    app.user("alice", &["CreateAPIKey", "runs:read"]).await;
    let admin = app.key("root", "production").await;
    let alices = app.key("alice", "production").await;
    let admin_bearer = app.access_token("production", &admin).await;
    let users = "query { users { id active permissions keyCount enabledKeyCount } }";
    let (_, body) = app
        .graphql("production", Some(&admin_bearer), users, Value::Null)
        .await;
    assert_eq!(
        body["data"]["users"],
        json!([
            {"id": "alice", "active": true, "permissions": ["CreateAPIKey", "runs:read"], "keyCount": 1, "enabledKeyCount": 1},
            {"id": "root", "active": true, "permissions": ["admin"], "keyCount": 1, "enabledKeyCount": 1},
        ]),
        "{body}"
    );
    let one = "query { user(id: \"alice\") { id email } nobody: user(id: \"nobody\") { id } }";
    let (_, body) = app
        .graphql("production", Some(&admin_bearer), one, Value::Null)
        .await;
    assert_eq!(
        body["data"]["user"],
        json!({"id": "alice", "email": "alice@example.com"})
    );
    assert!(body["data"]["nobody"].is_null(), "{body}");

    let alice_bearer = app.access_token("production", &alices).await;
    let (_, body) = app
        .graphql("production", Some(&alice_bearer), users, Value::Null)
        .await;
    assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
}

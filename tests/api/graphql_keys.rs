//! The management API and the keys it changes: no escalation, one winner per etag,
//! secret regeneration with and without a grace period, last use and expiry in listings,
//! renaming and moving the expiry.

use serde_json::{Value, json};
use std::sync::Arc;

use crate::app::{Backend, Key, TestApp};
use crate::graphql::{MANAGER, UPDATE, code, etag_of, list_nodes, manager};

crate::both_backends!(graphql_keys:
    keys_cannot_mint_stronger_keys,
    concurrent_updates_with_one_etag_have_one_winner,
    regenerating_with_and_without_a_grace_period,
    last_use_and_expiry_show_in_listings,
    one_key_is_read_by_its_client_id,
    name_and_expiry_change_and_an_expired_key_keeps_its_own,
);

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
    let bearer = app.access_token("production", &narrow).await;

    let (_, body) = app
        .graphql(
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
    let body = app
        .graphql(
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
    let body = app
        .graphql(
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
    let body = app
        .graphql(
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
                app.graphql("production", Some(&bearer), UPDATE, vars)
                    .await
                    .1
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
    let (_, body) = app
        .graphql("production", Some(bearer), UPDATE, json!({"input": input}))
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
    let bearer = app.access_token("production", &bootstrap).await;
    let third = regenerate(&app, &bearer, &key, None).await;
    assert_eq!(
        app.token_status("production", &second).await,
        401,
        "without grace the old secret stops at once"
    );
    assert_eq!(app.token_status("production", &third).await, 200);
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
    let query = "{ apiKeys { totalCount edges { node { clientId lastUsedAt expiresAt enabled disabledReason ownerId environment permissions name createdAt updatedAt secretHint } } } }";
    let (_, body) = app
        .graphql("production", Some(&bearer), query, Value::Null)
        .await;
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
    // The hint is the secret's last four characters, and only those.
    let hint = boot["secretHint"].as_str().unwrap();
    assert_eq!(hint, &bootstrap.secret[bootstrap.secret.len() - 4..]);
    let exp = nodes
        .iter()
        .find(|n| n["clientId"] == expiring.client_id)
        .unwrap();
    assert!(exp["lastUsedAt"].is_null() && exp["expiresAt"].is_string());

    // Time passes: the expiry sweep disables the key with reason `expired`.
    app.clock.advance(time::Duration::seconds(61));
    let swept = TestApp::eventually(std::time::Duration::from_secs(3), || async {
        let (_, body) = app
            .graphql("production", Some(&bearer), query, Value::Null)
            .await;
        list_nodes(&body)
            .iter()
            .any(|n| n["clientId"] == expiring.client_id && n["disabledReason"] == "expired")
    })
    .await;
    assert!(swept.is_some(), "expired key not marked");
    assert_eq!(app.token_status("production", &expiring).await, 401);
}

/// `apiKey(clientId:)` reads one key (its `_etag` without paging); another user's key,
/// or an unknown id, is null.
pub async fn one_key_is_read_by_its_client_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, bearer) = manager(&app).await;
    app.user("bob", &["runs:read"]).await;
    let bobs = app.key("bob", "production").await;
    let query = "query($c: String!) { apiKey(clientId: $c) { clientId _etag enabled } }";
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            query,
            json!({"c": key.client_id}),
        )
        .await;
    assert_eq!(
        body["data"]["apiKey"]["clientId"],
        key.client_id.as_str(),
        "{body}"
    );
    assert_eq!(
        body["data"]["apiKey"]["_etag"],
        etag_of(&app, &bearer, &key.client_id).await.as_str()
    );
    for other in [bobs.client_id.as_str(), "kmc_unknown"] {
        let (_, body) = app
            .graphql("production", Some(&bearer), query, json!({"c": other}))
            .await;
        assert!(body["data"]["apiKey"].is_null(), "{other}: {body}");
        assert!(body.get("errors").is_none(), "{body}");
    }
}

/// `updateApiKey` renames a key and moves its expiry (`null` clears either); the token
/// endpoint honours the new expiry at once, though the key's secret was verified and
/// cached before. An expired key keeps its expiry.
pub async fn name_and_expiry_change_and_an_expired_key_keeps_its_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, bearer) = manager(&app).await;
    let key = app.key("alice", "production").await;
    assert_eq!(
        app.token_status("production", &key).await,
        200,
        "cached now"
    );
    let update = "mutation($input: APIKeyInput!) { updateApiKey(input: $input) { apikey { clientId name expiresAt _etag } } }";
    let send = |input: Value| {
        let app = &app;
        let bearer = &bearer;
        async move {
            app.graphql("production", Some(bearer), update, json!({"input": input}))
                .await
                .1
        }
    };
    let before = etag_of(&app, &bearer, &key.client_id).await;
    let at = app.clock.now_plus(time::Duration::seconds(60));
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let body = send(json!({"clientId": key.client_id, "name": "nightly", "expiresAt": at})).await;
    let node = &body["data"]["updateApiKey"]["apikey"];
    assert_eq!(node["name"], "nightly", "{body}");
    assert!(node["expiresAt"].is_string(), "{body}");
    assert_ne!(node["_etag"], before.as_str(), "an update changes the etag");
    assert_eq!(app.audit_count("alice", "key.renamed").await, 1);
    assert_eq!(app.audit_count("alice", "key.expiry_changed").await, 1);

    // The same values again change nothing and record nothing.
    send(json!({"clientId": key.client_id, "name": "nightly"})).await;
    assert_eq!(app.audit_count("alice", "key.renamed").await, 1);

    for bad in ["2020-01-01T00:00:00Z", "next friday"] {
        let body = send(json!({"clientId": key.client_id, "expiresAt": bad})).await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{bad}: {body}");
    }

    app.clock.advance(time::Duration::seconds(61));
    assert_eq!(
        app.token_status("production", &key).await,
        401,
        "the moved expiry applies to a key whose secret was cached"
    );
    let body = send(json!({"clientId": key.client_id, "expiresAt": null})).await;
    assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("expired"), "{message}");
    assert_eq!(app.token_status("production", &key).await, 401);

    // Its name still changes; `null` removes it.
    let body = send(json!({"clientId": key.client_id, "name": null})).await;
    assert!(
        body["data"]["updateApiKey"]["apikey"]["name"].is_null(),
        "{body}"
    );
    assert_eq!(app.audit_count("alice", "key.renamed").await, 2);
}

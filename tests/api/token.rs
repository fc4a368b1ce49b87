//! Successful token requests, verified the way a gateway would.

use serde_json::{Value, json};

use crate::app::{Backend, TestApp};
use crate::gateway::verify_for_audience;

crate::both_backends!(token:
    basic_auth_mints_a_token_a_gateway_accepts,
    body_auth_works_as_form_and_as_json,
    every_algorithm_verifies_through_the_jwks,
    scope_narrows_the_granted_permissions,
    audience_and_resource_pick_a_configured_audience,
    permissions_stay_frozen_when_the_owner_changes,
    token_lifetime_follows_the_configuration,
    every_token_has_a_unique_jti,
    token_ids_and_etags_come_from_the_random_handle,
);

pub async fn basic_auth_mints_a_token_a_gateway_accepts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read", "runs:write"]).await;
    let key = app.key("alice", "production").await;

    let response = app
        .token_basic("production", &key, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "runs:read runs:write");

    let claims = app
        .verify("production", body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims["iss"], app.url("/production"));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], app.url("/production"));
    assert_eq!(claims["client_id"], key.client_id);
    assert_eq!(claims["env"], "production");
    assert_eq!(claims["permissions"], json!(["runs:read", "runs:write"]));
    assert_eq!(claims["scope"], "runs:read runs:write");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    assert_eq!(claims["nbf"], claims["iat"]);
    // A sandbox gateway must not accept a production token.
    assert!(
        app.verify("sandbox", body["access_token"].as_str().unwrap())
            .await
            .is_err()
    );
}

pub async fn body_auth_works_as_form_and_as_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "sandbox").await;
    let url = app.url("/sandbox/oauth2/token");

    let form = app
        .http
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &key.client_id),
            ("client_secret", &key.secret),
        ])
        .send()
        .await
        .unwrap();
    let json = app
        .http
        .post(&url)
        .json(&json!({"grant_type": "client_credentials", "client_id": key.client_id, "client_secret": key.secret}))
        .send()
        .await
        .unwrap();
    for response in [form, json] {
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        let claims = app
            .verify("sandbox", body["access_token"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(claims["client_id"], key.client_id);
    }
}

pub async fn every_algorithm_verifies_through_the_jwks(backend: Backend) {
    for (algs, expected) in [
        ("ES256", ["ES256", "ES256"]),
        ("production:RS256,sandbox:EdDSA", ["RS256", "EdDSA"]),
    ] {
        let app = TestApp::spawn_with(backend, &[("KEYMINT_SIGNING_ALG", algs)]).await;
        app.user("alice", &["runs:read"]).await;
        for (env, alg) in ["production", "sandbox"].into_iter().zip(expected) {
            let key = app.key("alice", env).await;
            let token = app.mint(env, &key).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(format!("{:?}", header.alg), alg);
            let claims = app
                .verify(env, &token)
                .await
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!(claims["env"], env);

            let metadata: Value = app
                .http
                .get(app.url(&format!("/{env}/.well-known/openid-configuration")))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(
                metadata["access_token_signing_alg_values_supported"],
                json!([alg])
            );
        }
    }
}

pub async fn scope_narrows_the_granted_permissions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["a", "b", "c"]).await;
    let key = app.key("alice", "production").await;
    // The key's whole set twice (the second from the verified cache, which then keeps
    // its claims template), then narrowed, asked in full, and whole again: a narrowed
    // token is never written from the cached key's template, nor the whole set from a
    // narrowed one.
    let cases = [
        (None, "a b c"),
        (None, "a b c"),
        (Some("c a"), "a c"),
        (Some("b c a"), "a b c"),
        (Some("b"), "b"),
        (None, "a b c"),
    ];
    for (scope, granted) in cases {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend(scope.map(|s| ("scope", s)));
        let response = app.token_basic("production", &key, &form).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["scope"], granted, "{scope:?}");
        let claims = app
            .verify("production", body["access_token"].as_str().unwrap())
            .await
            .unwrap();
        let permissions: Vec<&str> = granted.split(' ').collect();
        assert_eq!(claims["permissions"], json!(permissions), "{scope:?}");
        assert_eq!(claims["scope"], granted, "{scope:?}");
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["client_id"], key.client_id.as_str());
    }
}

pub async fn audience_and_resource_pick_a_configured_audience(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[(
            "KEYMINT_AUDIENCE",
            "https://api.example,https://erp.example",
        )],
    )
    .await;
    app.user("alice", &["a"]).await;
    let key = app.key("alice", "production").await;
    // The default twice (the second from the verified cache and its claims template),
    // the other audience, and the default again.
    let cases = [
        (vec![], "https://api.example"),
        (vec![], "https://api.example"),
        (
            vec![("audience", "https://erp.example")],
            "https://erp.example",
        ),
        (
            vec![("resource", "https://erp.example")],
            "https://erp.example",
        ),
        (
            vec![("audience", "https://api.example")],
            "https://api.example",
        ),
        (vec![], "https://api.example"),
    ];
    for (extra, expected) in cases {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend(extra);
        let body: Value = app
            .token_basic("production", &key, &form)
            .await
            .json()
            .await
            .unwrap();
        let token = body["access_token"].as_str().unwrap();
        let claims = verify_for_audience(&app, "production", token, Some(expected))
            .await
            .unwrap();
        assert_eq!(claims["aud"], expected);
    }
}

pub async fn permissions_stay_frozen_when_the_owner_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read", "runs:write"]).await;
    let old = app.key("alice", "production").await;
    app.user("alice", &["runs:read", "admin"]).await;
    let new = app.key("alice", "production").await;

    let old_claims = app
        .verify(
            "production",
            app.mint("production", &old).await["access_token"]
                .as_str()
                .unwrap(),
        )
        .await
        .unwrap();
    let new_claims = app
        .verify(
            "production",
            app.mint("production", &new).await["access_token"]
                .as_str()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        old_claims["permissions"],
        json!(["runs:read", "runs:write"])
    );
    assert_eq!(new_claims["permissions"], json!(["admin", "runs:read"]));
}

pub async fn token_lifetime_follows_the_configuration(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("KEYMINT_TOKEN_TTL", "120")]).await;
    app.user("alice", &["a"]).await;
    let key = app.key("alice", "production").await;
    let body = app.mint("production", &key).await;
    assert_eq!(body["expires_in"], 120);
    let claims = app
        .verify("production", body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
}

pub async fn every_token_has_a_unique_jti(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["a"]).await;
    let key = app.key("alice", "production").await;
    let mut jtis = std::collections::HashSet::new();
    for _ in 0..5 {
        let body = app.mint("production", &key).await;
        let claims = app
            .verify("production", body["access_token"].as_str().unwrap())
            .await
            .unwrap();
        assert!(
            jtis.insert(claims["jti"].as_str().unwrap().to_owned()),
            "jti repeated"
        );
    }
}

/// With a seeded `Random`, the same steps give the same token ids and etags (and another
/// seed others): jti and etags come through the handle, not from the OS generator.
pub async fn token_ids_and_etags_come_from_the_random_handle(backend: Backend) {
    async fn run(backend: Backend, seed: u64) -> (String, String) {
        let app = TestApp::spawn_seeded(backend, seed).await;
        app.user("alice", &["runs:read"]).await;
        let key = app.key("alice", "production").await;
        let token = app.access_token("production", &key).await;
        let claims = app.verify("production", &token).await.unwrap();
        let client_id = keymint::domain::ClientId::new(key.client_id.clone());
        let etag = app.state.store.get_key(&client_id).await.unwrap().etag;
        (claims["jti"].as_str().unwrap().to_owned(), etag)
    }
    let (first, again, other) = (
        run(backend, 7).await,
        run(backend, 7).await,
        run(backend, 8).await,
    );
    assert_eq!(first, again, "one seed, one sequence");
    assert_ne!(first.0, other.0, "another seed, another jti");
    assert_ne!(first.1, other.1, "another seed, another etag");
}

//! Where a `private_key_jwt` key's public keys come from: a set the client publishes and
//! rotates with no call to Keymint, keys registered and replaced through GraphQL (and a
//! federation rule given back), and the operator's list of hosts Keymint may fetch from.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

use keymint::domain::{ClientKeys, KeyAuth};
use keymint::signing::SigningAlg;

use crate::app::{Backend, TestApp};
use crate::private_key_jwt::{ClientKey, claims, client_key, exchange, refused};

crate::both_backends!(private_key_jwt_keys:
    a_published_key_set_rotates_without_a_call_to_keymint,
    graphql_makes_keys_without_a_secret_and_replaces_their_keys,
    the_operator_pins_the_hosts_keymint_fetches_from,
);

struct PublishedKeys {
    url: String,
    served: Arc<Mutex<Value>>,
}

impl PublishedKeys {
    async fn start(keys: &[&ClientKey]) -> Self {
        let served = Arc::new(Mutex::new(Value::Null));
        let shared = Arc::clone(&served);
        let app = Router::new().route(
            "/jwks.json",
            get(move || {
                let body = shared.lock().unwrap().to_string();
                async move { ([("cache-control", "max-age=60")], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let published = Self { url, served };
        published.publish(keys);
        published
    }

    fn publish(&self, keys: &[&ClientKey]) {
        *self.served.lock().unwrap() =
            json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()});
    }
}

pub async fn a_published_key_set_rotates_without_a_call_to_keymint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read", "IntrospectToken"]).await;
    let old = ClientKey::generate(SigningAlg::Es256);
    let published = PublishedKeys::start(&[&old]).await;
    let auth = KeyAuth::ClientKeys(ClientKeys::Url(published.url.clone()));
    let client_id = client_key(&app, "alice", auth).await;
    let (status, body) = exchange(&app, &old.sign(&claims(&app, &client_id)), None).await;
    assert_eq!(status, 200, "{body}");

    // The client publishes a new key beside the old one (Ed25519 this time) and uses it:
    // an unknown kid refetches (at most every 10 s).
    let new = ClientKey::generate(SigningAlg::EdDsa);
    published.publish(&[&old, &new]);
    app.clock.advance(time::Duration::seconds(11));
    let (status, body) = exchange(&app, &new.sign(&claims(&app, &client_id)), None).await;
    assert_eq!(status, 200, "the new key works at once: {body}");
    // It withdraws the old one: refused once the cached set (max-age 60) has expired.
    published.publish(&[&new]);
    assert_eq!(
        exchange(&app, &old.sign(&claims(&app, &client_id)), None)
            .await
            .0,
        200,
        "still cached"
    );
    app.clock.advance(time::Duration::seconds(61));
    refused(
        &exchange(&app, &old.sign(&claims(&app, &client_id)), None).await,
        "a withdrawn key",
    );
    let (status, body) = exchange(&app, &new.sign(&claims(&app, &client_id)), None).await;
    assert_eq!(status, 200, "{body}");
}

pub async fn graphql_makes_keys_without_a_secret_and_replaces_their_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, bearer) = crate::graphql::manager(&app).await;
    let client = ClientKey::generate(SigningAlg::Es256);
    let create = "mutation($input: CreateAPIKeyInput) { createApiKey(input: $input) { apikey { clientId clientSecret tokenEndpointAuthMethod jwksUri secretHint _etag jwks } } }";
    let jwks = json!({"keys": [client.jwk()]});
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            create,
            json!({"input": {"jwks": jwks, "permissions": ["CreateAPIKey"]}}),
        )
        .await;
    let node = &body["data"]["createApiKey"]["apikey"];
    assert!(node["clientSecret"].is_null(), "{body}");
    assert!(node["secretHint"].is_null());
    assert_eq!(node["tokenEndpointAuthMethod"], "private_key_jwt");
    assert_eq!(node["jwks"]["keys"][0]["kid"], client.kid());
    let client_id = node["clientId"].as_str().unwrap().to_owned();
    let (status, token) = exchange(&app, &client.sign(&claims(&app, &client_id)), None).await;
    assert_eq!(status, 200, "{token}");
    // The audit entry of the creation says how it authenticates.
    let audit = app
        .sql(&format!(
            "SELECT reason FROM audit_events WHERE action = 'key.created' AND client_id = '{client_id}'"
        ))
        .await
        .unwrap();
    assert!(
        audit.contains("private_key_jwt") && audit.contains(client.kid()),
        "{audit}"
    );

    // A secret cannot be regenerated for it; a private key is never accepted as its keys.
    let update = "mutation($input: APIKeyInput!) { updateApiKey(input: $input) { apikey { clientId jwksUri tokenEndpointAuthMethod } } }";
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            update,
            json!({"input": {"clientId": client_id, "regenerateSecret": true}}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    let mut private = client.jwk();
    private["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            create,
            json!({"input": {"jwks": {"keys": [private]}}}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("private key material")
    );
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            create,
            json!({"input": {"jwksUri": "http://ci.example/jwks.json"}}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );

    // Its keys are replaced: the new key works, the old one no longer does.
    let next = ClientKey::generate(SigningAlg::EdDsa);
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            update,
            json!({"input": {"clientId": client_id, "jwks": {"keys": [next.jwk()]}}}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        exchange(&app, &next.sign(&claims(&app, &client_id)), None)
            .await
            .0,
        200
    );
    refused(
        &exchange(&app, &client.sign(&claims(&app, &client_id)), None).await,
        "a replaced key",
    );
    // A federated key: its rule is given back; a rule accepting any token is refused.
    let federated = "mutation($input: CreateAPIKeyInput) { createApiKey(input: $input) { apikey { clientSecret tokenEndpointAuthMethod federation { issuer subject audience claims { name value } } } } }";
    let rule = json!({"issuer": "https://token.actions.githubusercontent.com",
        "claims": [{"name": "repository", "value": "acme/app"}]});
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            federated,
            json!({"input": {"federation": rule}}),
        )
        .await;
    let node = &body["data"]["createApiKey"]["apikey"];
    assert!(node["clientSecret"].is_null(), "{body}");
    assert_eq!(node["tokenEndpointAuthMethod"], "private_key_jwt");
    assert_eq!(node["federation"]["claims"][0]["value"], "acme/app");
    assert!(node["federation"]["subject"].is_null());
    let any = json!({"issuer": "https://token.actions.githubusercontent.com"});
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            federated,
            json!({"input": {"federation": any}}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    // A key with a secret has no keys to replace.
    let secret_key = app.key("alice", "production").await;
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            update,
            json!({"input": {"clientId": secret_key.client_id, "jwks": {"keys": [next.jwk()]}}}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}

pub async fn the_operator_pins_the_hosts_keymint_fetches_from(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pinned = app
        .spawn_peer_with(&[("KEYMINT_OUTBOUND_HOSTS", "keys.example.com,*.corp.example")])
        .await;
    let (_, bearer) = crate::graphql::manager(&app).await;
    let client = ClientKey::generate(SigningAlg::Es256);
    let published = PublishedKeys::start(&[&client]).await;
    // Registering a URL outside the list is refused where the list is set...
    let create = "mutation($input: CreateAPIKeyInput) { createApiKey(input: $input) { apikey { clientId } } }";
    let (_, body) = pinned
        .graphql(
            "production",
            Some(&bearer),
            create,
            json!({"input": {"jwksUri": published.url}}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("KEYMINT_OUTBOUND_HOSTS")
    );
    // ...and a key registered elsewhere is not fetched there: refused, never fetched.
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            create,
            json!({"input": {"jwksUri": published.url}}),
        )
        .await;
    let client_id = body["data"]["createApiKey"]["apikey"]["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    refused(
        &exchange(&pinned, &client.sign(&claims(&app, &client_id)), None).await,
        "a host outside the list",
    );
    let (status, body) = exchange(&app, &client.sign(&claims(&app, &client_id)), None).await;
    assert_eq!(status, 200, "{body}");
}

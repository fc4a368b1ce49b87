//! Per-key IP allow-lists: a key's good credentials from an address outside its list are
//! the one `401 invalid_client`, counted as `ip_not_allowed` and audited once a minute;
//! the address is the one the limiter uses (a trusted proxy's `X-Forwarded-For`, else the
//! TCP peer); IPv4 and IPv6 networks; `allowedIps` through GraphQL, and the address of
//! last use beside `lastUsedAt`.

use serde_json::{Value, json};

use keymint::domain::{AllowedIps, EnvironmentName, KeyAuth, UserId};
use keymint::manage::CreateKey;

use crate::app::{Backend, Key, TestApp};
use crate::graphql::{MANAGER, list_nodes};

crate::both_backends!(allowed_ips:
    a_key_answers_only_its_networks_through_a_trusted_proxy,
    without_a_trusted_proxy_the_peer_address_decides,
    graphql_sets_and_clears_the_list_and_shows_the_last_address,
);

/// A key of `owner` allowed only from `networks`.
async fn key_from(app: &TestApp, owner: &str, networks: &[&str]) -> Key {
    let created = app
        .state
        .management()
        .create_key(CreateKey {
            owner_id: UserId::parse(owner).unwrap(),
            environment: EnvironmentName::parse("production").unwrap(),
            permissions: None,
            name: None,
            expires_at: None,
            auth: KeyAuth::Secret,
            allowed_ips: AllowedIps::parse(networks).unwrap(),
        })
        .await
        .unwrap();
    Key {
        client_id: created.key.client_id.to_string(),
        secret: created.secret.unwrap().expose().to_owned(),
    }
}

/// A token request with `key` whose proxy says it came from `forwarded_for`.
async fn from(app: &TestApp, key: &Key, forwarded_for: Option<&str>) -> (u16, Value) {
    let mut request = app
        .http
        .post(app.url("/production/oauth2/token"))
        .basic_auth(&key.client_id, Some(&key.secret))
        .form(&[("grant_type", "client_credentials")]);
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn refused(outcome: &(u16, Value), what: &str) {
    assert_eq!(outcome.0, 401, "{what}: {}", outcome.1);
    assert_eq!(outcome.1["error"], "invalid_client", "{what}");
}

pub async fn a_key_answers_only_its_networks_through_a_trusted_proxy(backend: Backend) {
    // The test client connects from 127.0.0.1: a trusted proxy by default.
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let office = key_from(&app, "alice", &["203.0.113.0/24", "2001:db8:1:2::/64"]).await;
    for allowed in [
        "203.0.113.7",
        "203.0.113.254",
        "2001:db8:1:2::99",
        "2001:db8:1:2:ffff::1",
    ] {
        let (status, body) = from(&app, &office, Some(allowed)).await;
        assert_eq!(status, 200, "{allowed}: {body}");
        app.verify("production", body["access_token"].as_str().unwrap())
            .await
            .unwrap();
    }
    for elsewhere in ["198.51.100.7", "203.0.114.1", "2001:db8:1:3::1"] {
        refused(&from(&app, &office, Some(elsewhere)).await, elsewhere);
    }
    // The proxy itself (no header) is not in the list either.
    refused(&from(&app, &office, None).await, "the proxy's own address");
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("reason=\"ip_not_allowed\""),
        "ip_not_allowed is counted"
    );
    // A wrong secret from an allowed address is a wrong secret, not an address refusal.
    let wrong = Key {
        client_id: office.client_id.clone(),
        secret: format!("{}x", office.secret),
    };
    refused(
        &from(&app, &wrong, Some("203.0.113.7")).await,
        "a wrong secret",
    );

    // Good credentials from elsewhere are audited: once a minute, with the address.
    let audited = TestApp::eventually(std::time::Duration::from_secs(2), || async {
        app.audit_count("alice", "key.address_refused").await == 1
    })
    .await;
    assert!(audited.is_some(), "one audit entry for five refusals");
    app.clock.advance(time::Duration::seconds(61));
    refused(
        &from(&app, &office, Some("198.51.100.9")).await,
        "a minute later",
    );
    let again = TestApp::eventually(std::time::Duration::from_secs(2), || async {
        app.audit_count("alice", "key.address_refused").await == 2
    })
    .await;
    assert!(again.is_some(), "another entry a minute later");
    let newest = app
        .state
        .store
        .list_audit(&keymint::store::AuditQuery {
            client_id: Some(office.client_id.clone()),
            limit: 1,
            newest_first: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .0;
    assert_eq!(newest[0].action, "key.address_refused");
    assert_eq!(newest[0].target.as_deref(), Some("198.51.100.9"));
    assert_eq!(newest[0].reason.as_deref(), Some("ip_not_allowed"));
}

pub async fn without_a_trusted_proxy_the_peer_address_decides(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("KEYMINT_TRUSTED_PROXIES", "none")]).await;
    app.user("alice", &["runs:read"]).await;
    let local = key_from(&app, "alice", &["127.0.0.1"]).await;
    let remote = key_from(&app, "alice", &["203.0.113.0/24"]).await;
    assert_eq!(from(&app, &local, None).await.0, 200);
    // Nobody chooses their address by sending a header to an untrusting Keymint.
    assert_eq!(from(&app, &local, Some("198.51.100.7")).await.0, 200);
    refused(
        &from(&app, &remote, Some("203.0.113.7")).await,
        "a header from an untrusted peer",
    );
}

pub async fn graphql_sets_and_clears_the_list_and_shows_the_last_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", MANAGER).await;
    let manager = app.key("alice", "production").await;
    let bearer = app.access_token("production", &manager).await;
    let create = "mutation($input: CreateAPIKeyInput) { createApiKey(input: $input) { apikey { clientId clientSecret allowedIps _etag } } }";
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            create,
            json!({"input": {"allowedIps": ["203.0.113.7", "2001:db8::/64"]}}),
        )
        .await;
    let created = &body["data"]["createApiKey"]["apikey"];
    assert_eq!(
        created["allowedIps"],
        json!(["203.0.113.7/32", "2001:db8::/64"]),
        "{body}"
    );
    let key = Key {
        client_id: created["clientId"].as_str().unwrap().to_owned(),
        secret: created["clientSecret"].as_str().unwrap().to_owned(),
    };
    refused(&from(&app, &key, Some("198.51.100.7")).await, "elsewhere");
    assert_eq!(from(&app, &key, Some("2001:db8::42")).await.0, 200);

    // A bad network is BAD_USER_INPUT and changes nothing.
    let update =
        "mutation($input: APIKeyInput!) { updateApiKey(input: $input) { apikey { allowedIps } } }";
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            update,
            json!({"input": {"clientId": key.client_id, "allowedIps": ["10.0.0.0/33"]}}),
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
            .contains("10.0.0.0/33")
    );
    refused(&from(&app, &key, Some("198.51.100.7")).await, "unchanged");
    // `[]` allows any address again.
    let (_, body) = app
        .graphql(
            "production",
            Some(&bearer),
            update,
            json!({"input": {"clientId": key.client_id, "allowedIps": []}}),
        )
        .await;
    assert_eq!(
        body["data"]["updateApiKey"]["apikey"]["allowedIps"],
        json!([])
    );
    assert_eq!(from(&app, &key, Some("198.51.100.7")).await.0, 200);

    // The key's last use and where it came from.
    keymint::sync::flush_usage(&app.state.sync_task()).await;
    let list = "{ apiKeys { edges { node { clientId lastUsedAt lastUsedIp } } } }";
    let (_, body) = app
        .graphql("production", Some(&bearer), list, Value::Null)
        .await;
    let node = list_nodes(&body)
        .into_iter()
        .find(|n| n["clientId"] == key.client_id.as_str())
        .unwrap();
    assert!(node["lastUsedAt"].is_string(), "{node}");
    assert_eq!(node["lastUsedIp"], "198.51.100.7");
}

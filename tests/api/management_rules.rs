//! No escalation through management: an admin cannot take over keys stronger than
//! itself, `admin` follows the user's current permissions, and only tokens for the
//! management audience (the environment's issuer) manage keys.

use serde_json::{Value, json};

use crate::app::{Backend, Key, TestApp};
use crate::graphql::UPDATE;

crate::both_backends!(management_rules:
    admins_cannot_receive_secrets_of_stronger_keys,
    admin_follows_the_users_current_permissions,
    tokens_for_resource_servers_do_not_manage_keys,
    mutation_floods_and_directive_spam_are_refused_before_running,
);

const LIST_ALL: &str = "query { apiKeys { edges { node { clientId } } } }";

fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

async fn bearer(app: &TestApp, key: &Key) -> String {
    app.mint("production", key).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn listed(body: &Value) -> Vec<String> {
    body["data"]["apiKeys"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"]["clientId"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn admins_cannot_receive_secrets_of_stronger_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("boss", &["admin", "UpdateAPIKey", "runs:read"])
        .await;
    app.user("carol", &["runs:read", "deploy:production"]).await;
    let strong = app.key("carol", "production").await;
    let weak = app
        .key_with("carol", "production", Some(&["runs:read"]), None)
        .await;
    let admin = bearer(&app, &app.key("boss", "production").await).await;

    let regenerate =
        |key: &Key| json!({"input": {"clientId": key.client_id, "regenerateSecret": true}});
    let (_, body) = app
        .graphql("production", Some(&admin), UPDATE, regenerate(&strong))
        .await;
    assert_eq!(code(&body), Some("FORBIDDEN"), "{body}");
    assert!(body.to_string().contains("deploy:production"), "{body}");
    // The refused key is untouched: its secret still works.
    assert_eq!(app.token_status("production", &strong).await, 200);
    // Within the admin's ceiling, it works, and the secret is handed over.
    let (_, body) = app
        .graphql("production", Some(&admin), UPDATE, regenerate(&weak))
        .await;
    assert!(
        body["data"]["updateApiKey"]["apikey"]["clientSecret"].is_string(),
        "{body}"
    );
    // Disabling a stronger key hands nothing over: an admin may.
    let disable = json!({"input": {"clientId": strong.client_id, "enabled": false}});
    let (_, body) = app
        .graphql("production", Some(&admin), UPDATE, disable)
        .await;
    assert_eq!(
        body["data"]["updateApiKey"]["apikey"]["enabled"], false,
        "{body}"
    );
}

pub async fn admin_follows_the_users_current_permissions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("boss", &["admin", "UpdateAPIKey", "runs:read"])
        .await;
    app.user("carol", &["runs:read"]).await;
    let carols = app.key("carol", "production").await;
    let boss_key = app.key("boss", "production").await;
    let admin = bearer(&app, &boss_key).await;
    let (_, body) = app
        .graphql("production", Some(&admin), LIST_ALL, Value::Null)
        .await;
    assert!(listed(&body).contains(&carols.client_id), "{body}");

    // The directory takes admin away; the key still carries it, frozen.
    app.user("boss", &["UpdateAPIKey", "runs:read"]).await;
    app.settle().await;
    let admin = bearer(&app, &boss_key).await;
    let (_, body) = app
        .graphql("production", Some(&admin), LIST_ALL, Value::Null)
        .await;
    assert_eq!(listed(&body), vec![boss_key.client_id.clone()], "{body}");
    let disable = json!({"input": {"clientId": carols.client_id, "enabled": false}});
    let (_, body) = app
        .graphql("production", Some(&admin), UPDATE, disable)
        .await;
    assert_eq!(code(&body), Some("NOT_FOUND"), "{body}");
    assert_eq!(app.token_status("production", &carols).await, 200);
}

pub async fn tokens_for_resource_servers_do_not_manage_keys(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, &[("KEYMINT_AUDIENCE", "https://api.example.com")]).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    // The default audience is the resource server's: that token is refused here.
    let for_api = bearer(&app, &key).await;
    let (_, body) = app
        .graphql("production", Some(&for_api), LIST_ALL, Value::Null)
        .await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
    assert!(body.to_string().contains("audience"), "{body}");
    // A token asked for the issuer's own audience manages keys.
    let issuer = app.url("/production");
    let response = app
        .token_basic(
            "production",
            &key,
            &[("grant_type", "client_credentials"), ("audience", &issuer)],
        )
        .await;
    assert_eq!(response.status(), 200);
    let management: Value = response.json().await.unwrap();
    let bearer = management["access_token"].as_str().unwrap();
    let (_, body) = app
        .graphql("production", Some(bearer), LIST_ALL, Value::Null)
        .await;
    assert_eq!(listed(&body), vec![key.client_id.clone()], "{body}");
}

/// Each key creation costs an argon2id hash, so one request may carry at most 10
/// mutations (aliases and fragments count); a field may carry at most 4 directives.
pub async fn mutation_floods_and_directive_spam_are_refused_before_running(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["CreateAPIKey", "runs:read"]).await;
    let bearer = bearer(&app, &app.key("alice", "production").await).await;
    let create = |n: usize| {
        let fields: Vec<String> = (0..n)
            .map(|i| format!("k{i}: createApiKey {{ apikey {{ clientId }} }}"))
            .collect();
        format!("mutation {{ {} }}", fields.join(" "))
    };
    let (_, body) = app
        .graphql("production", Some(&bearer), &create(10), Value::Null)
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    for flood in [
        create(11),
        format!(
            "mutation {{ ...many }} fragment many on MutationRoot {{ {} }}",
            create(11)
                .trim_start_matches("mutation {")
                .trim_end_matches('}')
        ),
    ] {
        let (_, body) = app
            .graphql("production", Some(&bearer), &flood, Value::Null)
            .await;
        assert_eq!(code(&body), Some("BAD_USER_INPUT"), "{body}");
    }
    // Nothing of the refused requests ran: the key plus the 10 of the allowed request.
    let (_, body) = app
        .graphql("production", Some(&bearer), LIST_ALL, Value::Null)
        .await;
    assert_eq!(listed(&body).len(), 11, "{body}");
    let spam = format!(
        "query {{ apiKeys {} {{ totalCount }} }}",
        "@include(if: true) ".repeat(50)
    );
    let (_, body) = app
        .graphql("production", Some(&bearer), &spam, Value::Null)
        .await;
    assert!(body["errors"][0]["message"].is_string(), "{body}");
    assert!(body["data"].is_null(), "{body}");
}

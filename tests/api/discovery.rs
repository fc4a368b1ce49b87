//! Discovery documents and health endpoints.

use serde_json::Value;

use crate::app::{Backend, TestApp};

crate::both_backends!(discovery:
    metadata_is_served_at_all_three_paths,
    jwks_publishes_public_keys_only,
    health_and_readiness_answer,
    the_base_url_points_at_where_to_start,
);

pub async fn metadata_is_served_at_all_three_paths(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut docs = Vec::new();
    for path in [
        "/.well-known/oauth-authorization-server/sandbox",
        "/sandbox/.well-known/oauth-authorization-server",
        "/sandbox/.well-known/openid-configuration",
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        docs.push(response.json::<Value>().await.unwrap());
    }
    assert!(docs.iter().all(|d| *d == docs[0]));
    let doc = &docs[0];
    let issuer = app.url("/sandbox");
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["token_endpoint"], format!("{issuer}/oauth2/token"));
    assert_eq!(doc["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    // RFC 8414 §2: with private_key_jwt, the algorithms are listed; never "none" or HMAC.
    assert_eq!(
        doc["token_endpoint_auth_signing_alg_values_supported"],
        serde_json::json!(["RS256", "PS256", "ES256", "EdDSA"])
    );
    assert_eq!(
        doc["access_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
}

pub async fn jwks_publishes_public_keys_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .http
        .get(app.url("/production/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].get("d").is_none(), "private key material published");
    assert_eq!(keys[0]["use"], "sig");
    let sandbox = app.jwks("sandbox").await;
    assert_ne!(
        sandbox["keys"][0]["kid"], keys[0]["kid"],
        "environments share a signing key"
    );
}

pub async fn health_and_readiness_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
}

/// `GET /` answers with the environments and links that work, not a 404.
pub async fn the_base_url_points_at_where_to_start(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let root: Value = response.json().await.unwrap();
    let names: Vec<&str> = root["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["production", "sandbox"]);
    // Every link answers.
    let production = &root["environments"][0];
    for link in [
        &production["metadata"],
        &production["graphql_explorer"],
        &root["openapi"],
        &root["health"],
    ] {
        let status = app
            .http
            .get(link.as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{link}");
    }
    assert_eq!(production["issuer"], app.url("/production"));
    assert_eq!(
        production["token_endpoint"],
        app.url("/production/oauth2/token")
    );

    // A browser gets a page that links the console and each environment's explorer.
    let page = app
        .http
        .get(app.url("/"))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.headers().contains_key("content-security-policy"));
    let page = page.text().await.unwrap();
    for link in [
        "href=\"/console/\"".to_owned(),
        format!("href=\"{}\"", app.url("/production/graphql")),
        format!("href=\"{}\"", app.url("/sandbox/graphql")),
    ] {
        assert!(page.contains(&link), "{link} missing: {page}");
    }
}

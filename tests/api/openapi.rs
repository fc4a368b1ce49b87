//! `GET /openapi.json`: every route of the contract is in it, and every operation in it
//! is served (nothing documented that answers "no such route").

use serde_json::Value;

use crate::app::{Backend, TestApp};

crate::both_backends!(openapi:
    the_document_lists_every_route_and_only_served_ones,
);

/// The routes of `CONTRACT.md`, verbatim.
const CONTRACT_ROUTES: &[(&str, &str)] = &[
    ("post", "/{env}/oauth2/token"),
    ("get", "/{env}/.well-known/jwks.json"),
    ("get", "/{env}/statuslists/{n}"),
    ("get", "/.well-known/oauth-authorization-server/{env}"),
    ("get", "/{env}/.well-known/oauth-authorization-server"),
    ("get", "/{env}/.well-known/openid-configuration"),
    ("post", "/{env}/oauth2/introspect"),
    ("post", "/{env}/oauth2/revoke"),
    ("post", "/{env}/graphql"),
    ("get", "/{env}/graphql"),
    ("post", "/hooks/user-events"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    // SCIM 2.0 (RFC 7644) under /scim/v2.
    ("get", "/scim/v2/Users"),
    ("post", "/scim/v2/Users"),
    ("get", "/scim/v2/Users/{id}"),
    ("put", "/scim/v2/Users/{id}"),
    ("patch", "/scim/v2/Users/{id}"),
    ("delete", "/scim/v2/Users/{id}"),
    ("get", "/scim/v2/Groups"),
    ("post", "/scim/v2/Groups"),
    ("get", "/scim/v2/Groups/{id}"),
    ("put", "/scim/v2/Groups/{id}"),
    ("patch", "/scim/v2/Groups/{id}"),
    ("delete", "/scim/v2/Groups/{id}"),
    ("get", "/scim/v2/ServiceProviderConfig"),
    ("get", "/scim/v2/ResourceTypes"),
    ("get", "/scim/v2/ResourceTypes/{name}"),
    ("get", "/scim/v2/Schemas"),
    ("get", "/scim/v2/Schemas/{id}"),
    // RFC 7644 §3.4.3, under the contract's `/scim/v2/...`.
    ("post", "/scim/v2/Users/.search"),
    ("post", "/scim/v2/Groups/.search"),
    ("post", "/scim/v2/.search"),
];

/// Routes Keymint adds beyond the contract.
const OWN_ROUTES: &[(&str, &str)] = &[("get", "/")];

pub async fn the_document_lists_every_route_and_only_served_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], app.base.as_str());
    let paths = doc["paths"].as_object().unwrap();

    for (method, path) in CONTRACT_ROUTES.iter().chain(OWN_ROUTES) {
        let operation = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from /openapi.json"))[*method];
        assert!(operation.is_object(), "{method} {path} missing");
        assert!(
            operation["summary"].is_string(),
            "{method} {path} has no summary"
        );
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty()),
            "{method} {path} has no responses"
        );
    }

    let mut operations = 0;
    for (path, item) in paths {
        for (method, _) in item.as_object().unwrap() {
            operations += 1;
            let url = app.url(
                &path
                    .replace("{env}", "production")
                    .replace("{id}", "x")
                    .replace("{name}", "User")
                    .replace("{n}", "1"),
            );
            let request = match method.as_str() {
                "get" => app.http.get(&url),
                "post" => app.http.post(&url).body("{}"),
                "put" => app.http.put(&url).body("{}"),
                "patch" => app.http.patch(&url).body("{}"),
                "delete" => app.http.delete(&url),
                other => panic!("unexpected method {other}"),
            };
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path} is documented but not served");
            assert!(
                !body.contains("no such route"),
                "{method} {path} is documented but not served"
            );
            assert!(status < 500, "{method} {path} answered {status}: {body}");
        }
    }
    assert_eq!(
        operations,
        CONTRACT_ROUTES.len() + OWN_ROUTES.len(),
        "the document has routes neither the contract nor Keymint's own list has"
    );
    // References resolve.
    let text = doc.to_string();
    for reference in text.split("#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
}

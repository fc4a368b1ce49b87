//! Hostile and broken input on every public route: always a clear 4xx in the route's
//! error shape (RFC 6749 JSON on OAuth routes, GraphQL errors on GraphQL), never a 5xx.

use serde_json::Value;

use crate::app::{Backend, TestApp};

crate::both_backends!(bad_input:
    every_route_refuses_oversized_and_malformed_requests_in_its_own_shape,
    thousands_of_parameter_names_are_refused_before_any_other_work,
);

/// The POST routes and the shape their errors take.
const POST_ROUTES: &[(&str, Shape)] = &[
    ("/production/oauth2/token", Shape::OAuth),
    ("/production/oauth2/introspect", Shape::OAuth),
    ("/production/oauth2/revoke", Shape::OAuth),
    ("/production/graphql", Shape::GraphQl),
    ("/hooks/user-events", Shape::Json),
];

const GET_ROUTES: &[&str] = &[
    "/production/.well-known/jwks.json",
    "/production/.well-known/oauth-authorization-server",
    "/.well-known/oauth-authorization-server/production",
    "/production/.well-known/openid-configuration",
    "/production/graphql",
    "/metrics",
    "/healthz",
    "/readyz",
];

#[derive(Debug, Clone, Copy)]
enum Shape {
    /// `{"error", "error_description"}` (RFC 6749 §5.2).
    OAuth,
    /// `{"errors": [{"message", ...}]}`.
    GraphQl,
    /// Any JSON object with an error message.
    Json,
}

async fn check(what: &str, response: reqwest::Response, shape: Shape, statuses: &[u16]) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert!(
        statuses.contains(&status),
        "{what}: status {status} not in {statuses:?}: {text}"
    );
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{what}: body is not JSON: {text:?}"));
    match shape {
        Shape::OAuth => {
            assert!(body["error"].is_string(), "{what}: {body}");
            assert!(body["error_description"].is_string(), "{what}: {body}");
        }
        Shape::GraphQl => {
            assert!(body["errors"][0]["message"].is_string(), "{what}: {body}")
        }
        Shape::Json => assert!(body.is_object(), "{what}: {body}"),
    }
}

pub async fn every_route_refuses_oversized_and_malformed_requests_in_its_own_shape(
    backend: Backend,
) {
    let app = TestApp::spawn_with(
        backend,
        &[(
            "KEYMINT_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )],
    )
    .await;
    let huge_body = "a".repeat(100 * 1024);
    let huge_header = "b".repeat(20 * 1024);
    let invalid_utf8: &[u8] = b"grant_type=client_credentials&scope=\xff\xfe";
    let deep_json = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));

    for &(route, shape) in POST_ROUTES {
        let post = || app.http.post(app.url(route));
        let form = "application/x-www-form-urlencoded";
        check(
            &format!("{route} huge body"),
            post()
                .header("content-type", form)
                .body(huge_body.clone())
                .send()
                .await
                .unwrap(),
            shape,
            &[413],
        )
        .await;
        check(
            &format!("{route} huge header"),
            post()
                .header("x-padding", &huge_header)
                .header("content-type", form)
                .body("grant_type=client_credentials")
                .send()
                .await
                .unwrap(),
            shape,
            &[431],
        )
        .await;
        check(
            &format!("{route} invalid UTF-8"),
            post()
                .header("content-type", form)
                .body(invalid_utf8)
                .send()
                .await
                .unwrap(),
            shape,
            &[400, 401],
        )
        .await;
        check(
            &format!("{route} deeply nested JSON"),
            post()
                .header("content-type", "application/json")
                .body(deep_json.clone())
                .send()
                .await
                .unwrap(),
            shape,
            &[400, 401],
        )
        .await;
        check(
            &format!("{route} wrong content type"),
            post()
                .header("content-type", "image/png")
                .body("\u{0}\u{1}")
                .send()
                .await
                .unwrap(),
            shape,
            &[400, 401, 415],
        )
        .await;
        check(
            &format!("{route} no content type, no body"),
            post().send().await.unwrap(),
            shape,
            &[400, 401, 415],
        )
        .await;
    }
    // Unknown environments on every environment route.
    for &(route, shape) in &POST_ROUTES[..4] {
        let route = route.replacen("production", "nope", 1);
        check(
            &format!("{route} unknown environment"),
            app.http
                .post(app.url(&route))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .send()
                .await
                .unwrap(),
            shape,
            &[404],
        )
        .await;
    }
    for &route in GET_ROUTES {
        let response = app
            .http
            .get(app.url(route))
            .header("x-padding", &huge_header)
            .send()
            .await
            .unwrap();
        let shape = if route.ends_with("/graphql") {
            Shape::GraphQl
        } else {
            Shape::OAuth
        };
        check(&format!("GET {route} huge header"), response, shape, &[431]).await;
        if route.starts_with("/production") {
            let unknown = route.replacen("production", "nope", 1);
            let response = app.http.get(app.url(&unknown)).send().await.unwrap();
            assert_eq!(response.status(), 404, "GET {unknown}");
        }
    }
    // A GraphQL syntax error and an absurdly long field are GraphQL errors, not 5xx.
    for query in [
        "{ apiKeys(first: ",
        &format!("{{ {} }}", "x".repeat(50_000)),
    ] {
        let response = app
            .http
            .post(app.url("/production/graphql"))
            .json(&serde_json::json!({"query": query}))
            .send()
            .await
            .unwrap();
        check("GraphQL garbage", response, Shape::GraphQl, &[200, 400]).await;
    }
}

/// A body just under the size limit made of ~13,000 distinct parameter names (the shape
/// that made the parser quadratic): refused as `invalid_request` on every OAuth route, in
/// both encodings, with credentials that are otherwise right.
pub async fn thousands_of_parameter_names_are_refused_before_any_other_work(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let mut form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        key.client_id, key.secret
    );
    let mut json = serde_json::Map::new();
    json.insert("grant_type".into(), "client_credentials".into());
    let mut i = 0u32;
    while form.len() < 60 * 1024 {
        form.push_str(&format!("&{i:x}"));
        if i < 5_000 {
            json.insert(format!("{i:x}"), Value::Null);
        }
        i += 1;
    }
    assert!(i > 10_000, "{i} names");
    let json = Value::Object(json).to_string();
    assert!(json.len() < 64 * 1024, "{} bytes", json.len());
    for route in [
        "/production/oauth2/token",
        "/production/oauth2/introspect",
        "/production/oauth2/revoke",
    ] {
        for (content_type, body) in [
            ("application/x-www-form-urlencoded", form.clone()),
            ("application/json", json.clone()),
        ] {
            let response = app
                .http
                .post(app.url(route))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{route} {content_type}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "invalid_request", "{route}: {body}");
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap()
                    .contains("more than 64 parameters"),
                "{route}: {body}"
            );
        }
    }
    // The same key with an ordinary body still works.
    assert_eq!(app.token_status("production", &key).await, 200);
}

//! Every refusal of the token endpoint, with its exact status, body and headers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keymint::domain::{ClientId, UserId};
use serde_json::Value;
use time::Duration;

use crate::app::{Backend, Key, TestApp};

crate::both_backends!(token_errors:
    malformed_requests_get_rfc6749_errors,
    every_authentication_failure_looks_the_same,
    unknown_environments_and_methods_are_refused,
);

const FORM: &str = "application/x-www-form-urlencoded";

struct Refusal {
    status: u16,
    error: String,
    description: String,
    www_authenticate: Option<String>,
}

async fn refusal(response: reqwest::Response) -> Refusal {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "errors must not be cached"
    );
    let www_authenticate = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.expect("error bodies are JSON");
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "body is exactly error + error_description: {body}"
    );
    Refusal {
        status,
        error: body["error"].as_str().unwrap().to_owned(),
        description: body["error_description"].as_str().unwrap().to_owned(),
        www_authenticate,
    }
}

fn basic(key: &Key) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", key.client_id, key.secret))
    )
}

pub async fn malformed_requests_get_rfc6749_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let url = app.url("/production/oauth2/token");
    let auth = basic(&key);
    let post = |body: &str, content_type: &str| {
        app.http
            .post(&url)
            .header("content-type", content_type)
            .header("authorization", &auth)
            .body(body.to_owned())
    };
    let both_methods = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        key.client_id, key.secret
    );

    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "missing grant_type",
            post("scope=runs:read", FORM),
            400,
            "invalid_request",
        ),
        (
            "unsupported grant_type",
            post("grant_type=password", FORM),
            400,
            "unsupported_grant_type",
        ),
        (
            "both auth methods",
            post(&both_methods, FORM),
            400,
            "invalid_request",
        ),
        (
            "malformed Basic header",
            app.http
                .post(&url)
                .header("authorization", "Basic %%%")
                .form(&[("grant_type", "client_credentials")]),
            400,
            "invalid_request",
        ),
        (
            "duplicated parameter",
            post(
                "grant_type=client_credentials&grant_type=client_credentials",
                FORM,
            ),
            400,
            "invalid_request",
        ),
        (
            "wrong content type",
            post("grant_type=client_credentials", "text/plain"),
            400,
            "invalid_request",
        ),
        (
            "malformed JSON",
            post("{\"grant_type\":", "application/json"),
            400,
            "invalid_request",
        ),
        (
            "scope beyond the key",
            post(
                "grant_type=client_credentials&scope=runs:read%20admin",
                FORM,
            ),
            400,
            "invalid_scope",
        ),
        (
            "malformed scope",
            post("grant_type=client_credentials&scope=%22quoted%22", FORM),
            400,
            "invalid_scope",
        ),
        (
            "unknown audience",
            post(
                "grant_type=client_credentials&audience=https://evil.example",
                FORM,
            ),
            400,
            "invalid_target",
        ),
        (
            "unknown resource",
            post(
                "grant_type=client_credentials&resource=https://evil.example",
                FORM,
            ),
            400,
            "invalid_target",
        ),
        (
            "no client authentication",
            app.http
                .post(&url)
                .form(&[("grant_type", "client_credentials")]),
            401,
            "invalid_client",
        ),
        (
            "unsupported authentication scheme",
            app.http
                .post(&url)
                .bearer_auth("abc")
                .form(&[("grant_type", "client_credentials")]),
            401,
            "invalid_client",
        ),
    ];
    for (name, request, status, error) in cases {
        let r = refusal(request.send().await.unwrap()).await;
        assert_eq!(
            (r.status, r.error.as_str()),
            (status, error),
            "{name}: {}",
            r.description
        );
        assert!(!r.description.is_empty(), "{name}: empty description");
        assert!(
            !r.description.contains(&key.secret),
            "{name}: secret echoed"
        );
        if status == 401 {
            assert_eq!(
                r.www_authenticate.as_deref(),
                Some("Basic realm=\"production\", charset=\"UTF-8\""),
                "{name}"
            );
        } else {
            assert_eq!(r.www_authenticate, None, "{name}");
        }
    }
}

pub async fn every_authentication_failure_looks_the_same(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    app.user("bob", &["runs:read"]).await;
    let good = app.key("alice", "production").await;
    let disabled = app.key("alice", "production").await;
    let sandbox = app.key("alice", "sandbox").await;
    let expiring = app
        .key_with(
            "alice",
            "production",
            None,
            Some(app.clock.now_plus(Duration::seconds(60))),
        )
        .await;
    let bobs = app.key("bob", "production").await;
    let manage = app.state.management();
    manage
        .set_key_enabled(&ClientId::new(disabled.client_id.clone()), false, None)
        .await
        .unwrap();
    manage
        .deactivate_user(&UserId::parse("bob").unwrap())
        .await
        .unwrap();

    // The expiring key works now, and not once its time has passed.
    assert_eq!(
        app.token_basic(
            "production",
            &expiring,
            &[("grant_type", "client_credentials")]
        )
        .await
        .status(),
        200
    );
    app.clock.advance(Duration::seconds(61));

    let cases = [
        (
            "wrong secret",
            Key {
                secret: format!("{}x", good.secret),
                ..good.clone()
            },
        ),
        (
            "unknown client",
            Key {
                client_id: "kmc_AAAAAAAAAAAAAAAAAAAAAA".into(),
                secret: good.secret.clone(),
            },
        ),
        ("disabled key", disabled),
        ("inactive owner", bobs),
        ("key of another environment", sandbox),
        ("expired key", expiring),
    ];
    let mut seen = Vec::new();
    for (name, key) in cases {
        let r = refusal(
            app.token_basic("production", &key, &[("grant_type", "client_credentials")])
                .await,
        )
        .await;
        assert_eq!(r.status, 401, "{name}");
        seen.push((name, r.error, r.description, r.www_authenticate));
    }
    let (_, error, description, header) = &seen[0];
    assert_eq!(error, "invalid_client");
    for (name, e, d, h) in &seen {
        assert_eq!(
            (e, d, h),
            (error, description, header),
            "{name} is distinguishable"
        );
    }
    // The good key still works: nothing above locked it out.
    assert_eq!(
        app.token_basic("production", &good, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200
    );
}

pub async fn unknown_environments_and_methods_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = refusal(
        app.http
            .post(app.url("/staging/oauth2/token"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((r.status, r.error.as_str()), (404, "invalid_request"));
    let get = app
        .http
        .get(app.url("/production/oauth2/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    // RFC 9110 §15.5.6: a 405 names the methods that work; the body says it in RFC 6749 JSON.
    assert_eq!(get.headers()["allow"], "POST");
    assert_eq!(get.headers()["cache-control"], "no-store");
    let body: serde_json::Value = get.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"].as_str().unwrap().contains("POST"),
        "{body}"
    );
    let jwks = app
        .http
        .get(app.url("/staging/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 404);
}

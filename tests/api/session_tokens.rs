//! Identity-provider session tokens on the management API: only tokens the IdP issued
//! for Keymint, keys fetched over TLS (or loopback) within a size cap, and a key the IdP
//! withdraws stops verifying once the JWKS `max-age` has passed.

use serde_json::{Value, json};

use crate::app::{Backend, TestApp};
use crate::graphql::LIST;
use crate::idp::{AUDIENCE, ISSUER, TestIdp};

crate::both_backends!(session_tokens:
    only_tokens_issued_for_keymint_are_sessions,
    a_withdrawn_idp_key_stops_verifying_after_max_age,
);

fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

async fn app_with(backend: Backend, idp: &TestIdp) -> TestApp {
    TestApp::spawn_with(
        backend,
        &[
            ("KEYMINT_USER_TOKEN_ISSUER", ISSUER),
            ("KEYMINT_USER_TOKEN_JWKS_URL", &idp.jwks_url()),
            ("KEYMINT_USER_TOKEN_AUDIENCE", AUDIENCE),
        ],
    )
    .await
}

pub async fn only_tokens_issued_for_keymint_are_sessions(backend: Backend) {
    let idp = TestIdp::start().await;
    let app = app_with(backend, &idp).await;
    app.user("carol", &["runs:read"]).await;
    let good = idp.token("carol", ISSUER);
    let (_, body) = app
        .graphql("production", Some(&good), LIST, Value::Null)
        .await;
    assert!(body.get("errors").is_none(), "{body}");

    let refused = [
        (
            "an ID token of another application",
            idp.token_with("carol", ISSUER, json!({"aud": "payroll"}), None),
        ),
        (
            "no audience at all",
            idp.token_with("carol", ISSUER, json!({"aud": null}), None),
        ),
        (
            "issued to another party",
            idp.token_with("carol", ISSUER, json!({"azp": "payroll"}), None),
        ),
        (
            "a logout token",
            idp.token_with("carol", ISSUER, json!({}), Some("logout+jwt")),
        ),
    ];
    for (what, token) in refused {
        let (_, body) = app
            .graphql("production", Some(&token), LIST, Value::Null)
            .await;
        assert_eq!(
            code(&body),
            Some("UNAUTHENTICATED"),
            "{what} accepted: {body}"
        );
    }
    // azp naming Keymint, and the access-token typ, are fine.
    for token in [
        idp.token_with("carol", ISSUER, json!({"azp": AUDIENCE}), None),
        idp.token_with("carol", ISSUER, json!({}), Some("at+jwt")),
    ] {
        let (_, body) = app
            .graphql("production", Some(&token), LIST, Value::Null)
            .await;
        assert!(body.get("errors").is_none(), "{body}");
    }
}

pub async fn a_withdrawn_idp_key_stops_verifying_after_max_age(backend: Backend) {
    let idp = TestIdp::start().await;
    let app = app_with(backend, &idp).await;
    app.user("carol", &["runs:read"]).await;
    let old = idp.token("carol", ISSUER);
    let (_, body) = app
        .graphql("production", Some(&old), LIST, Value::Null)
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    // The IdP withdraws the key (it was compromised, say). Until the cached JWKS expires
    // (no Cache-Control: Keymint's default of 5 minutes), tokens signed with it pass ...
    idp.rotate();
    app.clock.advance(time::Duration::seconds(200));
    let (_, body) = app
        .graphql("production", Some(&old), LIST, Value::Null)
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    // ... and after it, they do not.
    app.clock.advance(time::Duration::seconds(101));
    let (_, body) = app
        .graphql("production", Some(&old), LIST, Value::Null)
        .await;
    assert_eq!(code(&body), Some("UNAUTHENTICATED"), "{body}");
    let fresh = idp.token("carol", ISSUER);
    let (_, body) = app
        .graphql("production", Some(&fresh), LIST, Value::Null)
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

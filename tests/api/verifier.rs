//! The library's verifier and axum layer against a Keymint served on port 0.

use axum::routing::get;
use axum::{Extension, Router, middleware};
use std::sync::Arc;

use keymint::clock::Clock;
use keymint::domain::EnvironmentName;
use keymint::verifier::layer::{RequirePermission, require_permission};
use keymint::verifier::{VerifiedToken, Verifier, VerifyError};

use crate::app::{Backend, TestApp};

fn token_of(body: &serde_json::Value) -> String {
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verifier_accepts_good_tokens_and_refuses_the_rest() {
    // No publish delay: the rotated key signs at once, so the test clock stays within the
    // verifier's leeway of real time.
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("KEYMINT_SIGNING_KEY_PUBLISH_DELAY", "0")],
    )
    .await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let sandbox = app.key("alice", "sandbox").await;
    let verifier = Verifier::discover(&app.url("/production"), None)
        .await
        .unwrap();

    let good = token_of(&app.mint("production", &key).await);
    let claims = verifier.verify(&good).await.unwrap();
    assert_eq!(
        (
            claims.sub.as_str(),
            claims.client_id.as_str(),
            claims.env.as_str()
        ),
        ("alice", key.client_id.as_str(), "production")
    );
    assert!(claims.permissions().contains("runs:read"));

    let foreign = token_of(&app.mint("sandbox", &sandbox).await);
    assert!(
        matches!(
            verifier.verify(&foreign).await,
            Err(VerifyError::Invalid(_))
        ),
        "sandbox token accepted"
    );
    let at = good.rfind('.').unwrap() + 20;
    let tampered = format!(
        "{}{}{}",
        &good[..at],
        if &good[at..=at] == "A" { "B" } else { "A" },
        &good[at + 1..]
    );
    assert!(matches!(
        verifier.verify(&tampered).await,
        Err(VerifyError::Invalid(_))
    ));
    assert!(matches!(
        verifier.verify("garbage").await,
        Err(VerifyError::Invalid(_))
    ));
    let other_audience = Verifier::discover(&app.url("/production"), Some("https://api.example"))
        .await
        .unwrap();
    assert!(
        matches!(
            other_audience.verify(&good).await,
            Err(VerifyError::Invalid(_))
        ),
        "wrong audience accepted"
    );
    // An expired token: forged with the environment's key, exp an hour ago.
    let mut expired = app.state.oauth.tokens.verify(&EnvironmentName::parse("production").unwrap(), &good)
        .map(|c| serde_json::json!({"iss": c.iss, "sub": c.sub, "aud": c.aud, "iat": c.iat - 7200, "nbf": c.nbf - 7200, "jti": "old", "client_id": c.client_id, "scope": c.scope, "permissions": c.permissions, "env": c.env}))
        .unwrap();
    expired["exp"] = serde_json::json!(app.clock.now().unix_timestamp() - 3600);
    let keys = app
        .state
        .keys
        .get(&EnvironmentName::parse("production").unwrap())
        .unwrap();
    let expired = keymint::signing::sign_jwt(&keys.active, &expired).unwrap();
    assert!(
        matches!(
            verifier.verify(&expired).await,
            Err(VerifyError::Invalid(_))
        ),
        "expired token accepted"
    );

    // Rotation: a token signed with a key a verifier has not fetched yet makes it refetch,
    // at most once per 10 s (the first verifier spent its refetch on the sandbox token).
    let fresh = Verifier::discover(&app.url("/production"), None)
        .await
        .unwrap();
    let next = app.rotate_signing_key("production").await;
    app.clock.advance(time::Duration::seconds(2));
    app.state.refresh_signing_keys().await;
    let rotated = token_of(&app.mint("production", &key).await);
    assert_eq!(
        jsonwebtoken::decode_header(&rotated)
            .unwrap()
            .kid
            .as_deref(),
        Some(next.as_str())
    );
    assert_eq!(
        fresh.verify(&rotated).await.unwrap().sub,
        "alice",
        "no refetch on an unknown kid"
    );
    assert!(
        verifier.verify(&rotated).await.is_err(),
        "refetches are not rate-limited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_answers_401_403_and_passes_claims_on() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let verifier = Arc::new(
        Verifier::discover(&app.url("/production"), None)
            .await
            .unwrap(),
    );
    let protected = Router::new()
        .route(
            "/read",
            get(|Extension(t): Extension<VerifiedToken>| async move { t.sub }).route_layer(
                middleware::from_fn_with_state(
                    RequirePermission::new(Arc::clone(&verifier), "runs:read"),
                    require_permission,
                ),
            ),
        )
        .route(
            "/write",
            get(|| async { "written" }).route_layer(middleware::from_fn_with_state(
                RequirePermission::new(verifier, "runs:write"),
                require_permission,
            )),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, protected).await.unwrap() });
    let token = token_of(&app.mint("production", &key).await);

    let ok = app
        .http
        .get(format!("{base}/read"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "alice");
    let missing = app.http.get(format!("{base}/read")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert!(
        missing.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer realm=")
    );
    let bad = app
        .http
        .get(format!("{base}/read"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert_eq!(
        bad.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    let forbidden = app
        .http
        .get(format!("{base}/write"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    assert_eq!(
        forbidden.headers()["www-authenticate"],
        "Bearer error=\"insufficient_scope\", scope=\"runs:write\""
    );
}

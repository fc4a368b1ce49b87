//! The verifier library reads status lists: a disabled key's unexpired token is refused
//! once the list's `ttl` has passed (through the axum layer too), the token of a key in
//! good standing still passes, and when the list cannot be fetched the copy held decides
//! only within the configured bound, then every token naming it is refused (fail closed).

use axum::routing::get;
use axum::{Router, middleware};
use std::sync::Arc;
use std::time::Duration;

use keymint::clock::Clock;
use keymint::verifier::layer::{RequirePermission, require_permission};
use keymint::verifier::{Verifier, VerifyError};

use crate::app::{Backend, TestApp};

crate::both_backends!(verifier_status:
    a_disabled_keys_token_is_refused_once_the_lists_ttl_has_passed,
    an_unreachable_list_fails_closed_past_the_bound,
);

async fn verifier(app: &TestApp) -> Arc<Verifier> {
    let clock: Arc<dyn Clock> = app.clock.clone();
    Arc::new(
        Verifier::discover_with_clock(&app.url("/production"), None, clock)
            .await
            .unwrap()
            .with_status_bound(Duration::from_secs(120)),
    )
}

/// A service behind the verifier's layer; its base URL.
async fn service(verifier: Arc<Verifier>) -> String {
    let app = Router::new().route(
        "/read",
        get(|| async { "ok" }).route_layer(middleware::from_fn_with_state(
            RequirePermission::new(verifier, "runs:read"),
            require_permission,
        )),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

pub async fn a_disabled_keys_token_is_refused_once_the_lists_ttl_has_passed(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("KEYMINT_STATUS_LIST_TTL", "20")]).await;
    app.user("alice", &["runs:read"]).await;
    let disabled = app.key("alice", "production").await;
    let kept = app.key("alice", "production").await;
    let verifier = verifier(&app).await;
    let base = service(Arc::clone(&verifier)).await;
    let token = app.access_token("production", &disabled).await;
    let other = app.access_token("production", &kept).await;
    verifier.verify(&token).await.unwrap();
    verifier.verify(&other).await.unwrap();
    app.disable(&disabled).await;
    // Within the ttl the list held decides: that is the bargain of offline validation.
    assert!(verifier.verify(&token).await.is_ok());
    app.clock.advance(time::Duration::seconds(21));
    match verifier.verify(&token).await {
        Err(VerifyError::Invalid(reason)) => assert!(reason.contains("status list"), "{reason}"),
        other => panic!("a disabled key's token after the ttl: {other:?}"),
    }
    verifier.verify(&other).await.unwrap();
    let through_layer = |t: String| {
        let (http, url) = (app.http.clone(), format!("{base}/read"));
        async move { http.get(url).bearer_auth(t).send().await.unwrap().status() }
    };
    assert_eq!(through_layer(token).await, 401);
    assert_eq!(through_layer(other).await, 200);
}

pub async fn an_unreachable_list_fails_closed_past_the_bound(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let verifier = verifier(&app).await;
    let base = service(Arc::clone(&verifier)).await;
    let token = app.access_token("production", &key).await;
    verifier.verify(&token).await.unwrap();
    app.stop().await;
    // Past the ttl (60 s) the list cannot be refreshed: the copy held still decides,
    // within the 120 s bound past its fetch.
    app.clock.advance(time::Duration::seconds(90));
    verifier.verify(&token).await.unwrap();
    // Past the bound: refused, though the token's signature and expiry are fine.
    app.clock.advance(time::Duration::seconds(40));
    match verifier.verify(&token).await {
        Err(VerifyError::Unavailable(reason)) => {
            assert!(reason.contains("status list"), "{reason}")
        }
        other => panic!("past the bound: {other:?}"),
    }
    let status = app
        .http
        .get(format!("{base}/read"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 503);
}

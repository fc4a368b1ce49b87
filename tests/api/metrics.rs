//! `/metrics`: token outcomes by environment and reason, route latencies, pool use, and
//! nothing secret.

use crate::app::{Backend, Key, TestApp};

crate::both_backends!(metrics:
    token_outcomes_latencies_and_pool_use_are_exported,
);

pub async fn token_outcomes_latencies_and_pool_use_are_exported(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let token = app.mint("production", &key).await;
    app.mint("production", &key).await;
    let wrong = Key {
        client_id: key.client_id.clone(),
        secret: "kms_wrong".into(),
    };
    assert_eq!(app.token_status("production", &wrong).await, 401);
    assert_eq!(app.token_status("sandbox", &key).await, 401);
    assert_eq!(app.token_status("nope", &key).await, 404);
    let bad_scope = app
        .token_basic(
            "production",
            &key,
            &[("grant_type", "client_credentials"), ("scope", "admin")],
        )
        .await;
    assert_eq!(bad_scope.status(), 400);

    assert_eq!(
        count(&app, r#"env="production",outcome="issued",reason="none""#).await,
        2.0
    );
    assert_eq!(
        count(
            &app,
            r#"env="production",outcome="invalid_client",reason="wrong_secret""#
        )
        .await,
        1.0
    );
    assert_eq!(
        count(
            &app,
            r#"env="sandbox",outcome="invalid_client",reason="wrong_environment""#
        )
        .await,
        1.0
    );
    assert_eq!(
        count(
            &app,
            r#"env="unknown",outcome="invalid_request",reason="unknown_environment""#
        )
        .await,
        1.0
    );
    assert_eq!(
        count(
            &app,
            r#"env="production",outcome="invalid_scope",reason="none""#
        )
        .await,
        1.0
    );
    let timed = app
        .metric(r#"keymint_http_request_duration_seconds_count{route="/{env}/oauth2/token"}"#)
        .await;
    assert_eq!(timed, 6.0);
    let under_5s = app
        .metric(
            r#"keymint_http_request_duration_seconds_bucket{route="/{env}/oauth2/token",le="5"}"#,
        )
        .await;
    assert_eq!(under_5s, 6.0, "buckets are cumulative");
    assert!(app.metric(r#"keymint_db_connections{state="max"}"#).await >= 1.0);
    assert!(app.metric(r#"keymint_db_connections{state="open"}"#).await >= 1.0);

    // Nothing secret or client-specific becomes a label.
    let text = app.metrics_text().await;
    let access_token = token["access_token"].as_str().unwrap();
    for (what, value) in [
        ("client id", key.client_id.as_str()),
        ("secret", key.secret.as_str()),
        ("token", access_token),
    ] {
        assert!(!text.contains(value), "{what} appears in /metrics");
    }
    // Every line is a comment or `name{labels} number`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample line {line:?}");
    }
}

async fn count(app: &TestApp, labels: &str) -> f64 {
    app.metric(&format!("keymint_token_requests_total{{{labels}}}"))
        .await
}

/// With `KEYMINT_METRICS_LISTEN`, `/metrics` (which says why requests were refused)
/// moves to its own listener; the public port answers 404 there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_metrics_listener_takes_metrics_off_the_public_port() {
    // A free port: bound, read, released (the listener is bound again at start).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = free.local_addr().unwrap().to_string();
    drop(free);
    let app = TestApp::spawn_with(Backend::Sqlite, &[("KEYMINT_METRICS_LISTEN", &address)]).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    app.mint("production", &key).await;
    let public = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    let metrics_url = format!("http://{address}/metrics");
    let scraped = TestApp::eventually(std::time::Duration::from_secs(5), || async {
        app.http
            .get(&metrics_url)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(scraped.is_some(), "the metrics listener never answered");
    let text = app
        .http
        .get(&metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("keymint_token_requests_total"), "{text}");
    // Nothing else is served there.
    let other = format!("http://{address}/production/.well-known/jwks.json");
    assert_eq!(app.http.get(&other).send().await.unwrap().status(), 404);
}

//! Brute-force protection and token quotas through the token endpoint, with clients on
//! different loopback addresses (127.0.0.2, 127.0.0.3, ...) as different sources.

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use time::Duration;

use crate::app::{Backend, Key, TestApp};

crate::both_backends!(brute_force:
    guessing_locks_the_guesser_out_never_the_right_secret,
    a_stale_secret_repeated_counts_once_and_costs_one_verification,
    a_key_over_its_token_quota_gets_429,
);

/// An HTTP client whose connections come from 127.0.0.`last`.
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .unwrap()
}

async fn attempt(
    app: &TestApp,
    from: &reqwest::Client,
    client_id: &str,
    secret: &str,
) -> reqwest::Response {
    from.post(app.url("/production/oauth2/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

pub async fn guessing_locks_the_guesser_out_never_the_right_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let warm = app.key("alice", "production").await;
    let cold = app.key("alice", "production").await;
    let attacker = client_from(2);
    let elsewhere = client_from(3);

    // The legitimate client on the attacker's address (say, one NAT) is warm.
    let (status, _) =
        status_and_body(attempt(&app, &attacker, &warm.client_id, &warm.secret).await).await;
    assert_eq!(status, 200);

    // Guessing one client id's secret: after 5 failures the pair is locked, and the answer
    // stays exactly the invalid_client of a wrong secret.
    let (_, first_refusal) =
        status_and_body(attempt(&app, &attacker, &cold.client_id, "kms_guess").await).await;
    for i in 0..5 {
        let guess = format!("kms_guess{i}");
        let (status, body) =
            status_and_body(attempt(&app, &attacker, &cold.client_id, &guess).await).await;
        assert_eq!(
            (status, &body),
            (401, &first_refusal),
            "a lock must look like a wrong secret"
        );
    }
    let pair_refusals = app
        .metric("keymint_auth_refused_total{lock=\"client_from_address\"}")
        .await;
    assert!(
        pair_refusals >= 1.0,
        "the pair lock was never used: {pair_refusals}"
    );
    // Even the right secret from the locked pair waits out the 1 s lock ...
    assert_eq!(
        attempt(&app, &attacker, &cold.client_id, &cold.secret)
            .await
            .status(),
        401
    );
    // ... while from another address it works at once, cold, through argon2.
    assert_eq!(
        attempt(&app, &elsewhere, &cold.client_id, &cold.secret)
            .await
            .status(),
        200
    );

    // Spraying unknown client ids from the same address locks the address: 429.
    for i in 0..20 {
        let status = attempt(&app, &attacker, &format!("kmc_unknown{i}"), "kms_guess")
            .await
            .status();
        assert!(status == 401 || status == 429, "{status}");
    }
    let (status, body) = {
        let response = attempt(&app, &attacker, "kmc_another", "kms_guess").await;
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry_after >= 1, "Retry-After {retry_after}");
        status_and_body(response).await
    };
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(
        !body.to_string().contains("kmc_"),
        "the answer names no client: {body}"
    );
    // The warm legitimate client on that address still gets its tokens ...
    assert_eq!(
        attempt(&app, &attacker, &warm.client_id, &warm.secret)
            .await
            .status(),
        200
    );
    // ... and clients elsewhere are untouched, even with a brand-new key.
    let fresh = app.key("alice", "production").await;
    assert_eq!(
        attempt(&app, &elsewhere, &fresh.client_id, &fresh.secret)
            .await
            .status(),
        200
    );

    // The lock lifts with time (the back-off is at most 15 minutes).
    app.clock.advance(Duration::minutes(16));
    let other_fresh: Key = app.key("alice", "production").await;
    assert_eq!(
        attempt(&app, &attacker, &other_fresh.client_id, &other_fresh.secret)
            .await
            .status(),
        200
    );
    // 20 failures locked the address; its 429s were not failures.
    assert_eq!(app.metric("keymint_auth_failures_total").await, 20.0);
}

/// A worker left with a rotated-out secret keeps retrying it: that is one failure, not a
/// guessing attack, so its healthy neighbours on the same host are never locked out, and
/// the repeats are refused from memory without argon2.
pub async fn a_stale_secret_repeated_counts_once_and_costs_one_verification(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let host = client_from(4);
    let before = app.metric("keymint_argon2_jobs_total").await;
    for _ in 0..40 {
        let response = attempt(&app, &host, &key.client_id, "kms_rotated_out").await;
        assert_eq!(response.status(), 401);
    }
    let jobs = app.metric("keymint_argon2_jobs_total").await - before;
    assert_eq!(
        jobs, 1.0,
        "repeats of a known-bad secret must not run argon2"
    );
    assert_eq!(app.metric("keymint_auth_failures_total").await, 1.0);
    // The healthy worker on the same host, cold, is served.
    assert_eq!(
        attempt(&app, &host, &key.client_id, &key.secret)
            .await
            .status(),
        200
    );
}

pub async fn a_key_over_its_token_quota_gets_429(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("KEYMINT_TOKEN_RATE_LIMIT", "3")]).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let other = app.key("alice", "production").await;
    for _ in 0..3 {
        app.mint("production", &key).await;
    }
    let response = app
        .token_basic("production", &key, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "20");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // Only authenticated requests count: a wrong secret is still invalid_client, so no one
    // without the secret can spend a key's quota.
    let wrong = Key {
        client_id: other.client_id.clone(),
        secret: "kms_wrong".into(),
    };
    for _ in 0..5 {
        assert_eq!(app.token_status("production", &wrong).await, 401);
    }
    assert_eq!(app.token_status("production", &other).await, 200);
    // A token comes back every 20 s.
    app.clock.advance(Duration::seconds(20));
    assert_eq!(app.token_status("production", &key).await, 200);
    assert_eq!(app.token_status("production", &key).await, 429);
    assert_eq!(app.metric("keymint_token_quota_refused_total").await, 2.0);
}

//! Brute-force protection and token quotas through the token endpoint, with clients on
//! different loopback addresses (127.0.0.2, 127.0.0.3, ...) as different sources.

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use time::Duration;

use crate::app::{Backend, Key, TestApp};

crate::both_backends!(brute_force:
    guessers_never_lock_out_the_right_secret,
    wrong_secrets_cost_no_argon2,
    a_key_from_before_check_tags_gets_its_tag_at_its_next_success,
    forwarded_for_counts_only_from_trusted_proxies,
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

/// One guesser behind the same address as an honest client (a NAT, a Kubernetes node):
/// 30 wrong secrets for the honest client's key and 60 unknown client ids. The guesser's
/// failures are slowed and then answered 429; the honest client's right secret, on a
/// cold instance, gets a token at the first try.
pub async fn guessers_never_lock_out_the_right_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let nat = client_from(2);

    let (_, wrong_secret) =
        status_and_body(attempt(&app, &nat, &key.client_id, "kms_guess").await).await;
    let (_, unknown_id) =
        status_and_body(attempt(&app, &nat, "kmc_unknownunknownunknow", "kms_guess").await).await;
    // Refusals never say why.
    assert_eq!(wrong_secret, unknown_id);
    assert_eq!(wrong_secret["error"], "invalid_client");

    let guesses = (0..28).map(|i| (key.client_id.clone(), format!("kms_guess{i}")));
    let sprays = (0..60).map(|i| (format!("kmc_unknown{i:018}"), "kms_guess".to_owned()));
    let mut too_many = 0;
    for (client_id, secret) in guesses.chain(sprays) {
        let response = attempt(&app, &nat, &client_id, &secret).await;
        match response.status().as_u16() {
            401 => {}
            429 => {
                too_many += 1;
                let retry_after: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(retry_after >= 1, "Retry-After {retry_after}");
                let (_, body) = status_and_body(response).await;
                assert_eq!(body["error"], "temporarily_unavailable");
                assert!(
                    !body.to_string().contains("kmc_"),
                    "names no client: {body}"
                );
            }
            other => panic!("a guess answered {other}"),
        }
    }
    assert!(too_many > 0, "the guessing address was never answered 429");

    // The honest client, on the guesser's address, with a cold cache: served at once.
    assert!(app.state.cache.is_empty(), "the cache must be cold");
    let (status, body) =
        status_and_body(attempt(&app, &nat, &key.client_id, &key.secret).await).await;
    assert_eq!(status, 200, "{body}");
    // So is a brand-new key there, and the guesser is still refused.
    let fresh = app.key("alice", "production").await;
    assert_eq!(
        attempt(&app, &nat, &fresh.client_id, &fresh.secret)
            .await
            .status(),
        200
    );
    assert_eq!(
        attempt(&app, &nat, &key.client_id, "kms_more")
            .await
            .status(),
        429
    );
    assert_eq!(app.metric("keymint_auth_failures_total").await, 91.0);
}

/// A wrong secret is refused by its check tag: no argon2 at all, however many arrive.
/// Only a right secret of a usable key is verified by argon2id.
pub async fn wrong_secrets_cost_no_argon2(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let disabled = app.key("alice", "production").await;
    app.disable(&disabled).await;
    let before = app.metric("keymint_argon2_jobs_total").await;
    for i in 0..15 {
        let from = client_from(10 + (i % 4) as u8);
        let response = attempt(&app, &from, &key.client_id, &format!("kms_wrong{i}")).await;
        assert_eq!(response.status(), 401);
    }
    // The right secret of a disabled key is refused before argon2 too.
    let response = attempt(
        &app,
        &client_from(20),
        &disabled.client_id,
        &disabled.secret,
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(app.metric("keymint_argon2_jobs_total").await - before, 0.0);
    assert_eq!(
        attempt(&app, &client_from(21), &key.client_id, &key.secret)
            .await
            .status(),
        200
    );
    assert_eq!(app.metric("keymint_argon2_jobs_total").await - before, 1.0);
}

/// Keys created before check tags existed have none: their wrong secrets still go to
/// argon2id until the right secret, verified once, stores the tag beside the hash.
pub async fn a_key_from_before_check_tags_gets_its_tag_at_its_next_success(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    async fn tag_of(app: &TestApp, key: &Key) -> Option<String> {
        let select = "SELECT secret_check FROM api_keys WHERE client_id = ";
        app.sql(&format!("{select}'{}'", key.client_id)).await
    }
    assert!(
        tag_of(&app, &key).await.is_some(),
        "new keys are tagged at creation"
    );
    app.sql(&format!(
        "UPDATE api_keys SET secret_check = NULL WHERE client_id = '{}'",
        key.client_id
    ))
    .await;
    let jobs = || app.metric("keymint_argon2_jobs_total");
    let before = jobs().await;
    assert_eq!(
        attempt(&app, &client_from(30), &key.client_id, "kms_wrong")
            .await
            .status(),
        401
    );
    assert_eq!(
        jobs().await - before,
        1.0,
        "an untagged key's wrong secret needs argon2"
    );
    assert_eq!(
        attempt(&app, &client_from(30), &key.client_id, &key.secret)
            .await
            .status(),
        200
    );
    assert!(
        tag_of(&app, &key).await.is_some(),
        "the tag is stored after a success"
    );
    let before = jobs().await;
    assert_eq!(
        attempt(&app, &client_from(31), &key.client_id, "kms_wrong2")
            .await
            .status(),
        401
    );
    assert_eq!(jobs().await - before, 0.0);
}

/// Failures through a trusted proxy count per forwarded client; a caller reaching the
/// port directly is counted by its own address whatever `X-Forwarded-For` it invents, and
/// a proxy request without a usable header counts as the proxy, never as "no address".
pub async fn forwarded_for_counts_only_from_trusted_proxies(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("KEYMINT_BEHIND_TLS_PROXY", "1"),
            ("KEYMINT_TRUSTED_PROXIES", "127.0.0.2/32"),
        ],
    )
    .await;
    // A new client id per guess: only the address limit is under test.
    let ids = std::sync::atomic::AtomicU32::new(0);
    let guess = |from: &reqwest::Client, forwarded: Option<String>| {
        let id = ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut request = from
            .post(app.url("/production/oauth2/token"))
            .basic_auth(format!("kmc_unknown{id}"), Some("kms_guess"))
            .form(&[("grant_type", "client_credentials")]);
        if let Some(xff) = forwarded {
            request = request.header("x-forwarded-for", xff);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let (proxy, direct) = (client_from(2), client_from(3));
    // Direct: a new invented address per request does not escape the address's limit.
    let mut statuses = Vec::new();
    for i in 0..21 {
        statuses.push(guess(&direct, Some(format!("198.51.100.{i}"))).await);
    }
    assert_eq!(statuses[..20], [401; 20]);
    assert_eq!(statuses[20], 429, "a direct caller chose its own address");
    // Through the proxy: one forwarded client hits its limit, another is untouched.
    for _ in 0..20 {
        assert_eq!(guess(&proxy, Some("203.0.113.1".into())).await, 401);
    }
    assert_eq!(guess(&proxy, Some("203.0.113.1".into())).await, 429);
    assert_eq!(guess(&proxy, Some("203.0.113.2".into())).await, 401);
    // Spoofed entries left of the proxy's own are the client's words: not believed.
    assert_eq!(
        guess(&proxy, Some("203.0.113.2, 203.0.113.1".into())).await,
        429
    );
    // No header, or garbage: counted as the proxy itself.
    for _ in 0..20 {
        assert_eq!(guess(&proxy, None).await, 401);
    }
    assert_eq!(guess(&proxy, Some("garbage".into())).await, 429);
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

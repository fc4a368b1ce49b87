//! The fast token path: verified-secret cache (hits skip argon2; every change invalidates),
//! and bounded argon2 (a flood of cold right secrets answers 503 at once; wrong secrets never
//! reach argon2; warm clients are unaffected).

use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

use keymint::domain::{ClientId, UserId};

use crate::app::{Backend, Key, TestApp};

crate::both_backends!(fast_path:
    a_second_request_skips_argon2,
    a_cache_mismatch_falls_back_to_the_store_not_to_a_refusal,
    changes_invalidate_the_cache_at_once,
    a_flood_is_shed_or_refused_while_warm_clients_succeed,
);

pub async fn a_second_request_skips_argon2(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    app.settle().await;
    assert_eq!(app.token_status("production", &key).await, 200);
    assert_eq!(app.state.cache.len(), 1, "not cached after a verification");
    let jobs = app.metric("keymint_argon2_jobs_total").await;
    let hits = app.metric("keymint_token_cache_hits_total").await;
    for _ in 0..5 {
        let body = app.mint("production", &key).await;
        app.verify("production", body["access_token"].as_str().unwrap())
            .await
            .unwrap();
    }
    assert_eq!(
        app.metric("keymint_argon2_jobs_total").await,
        jobs,
        "warm requests ran argon2"
    );
    assert_eq!(
        app.metric("keymint_token_cache_hits_total").await,
        hits + 5.0
    );
}

/// A secret that does not match the cached one is a miss, never a refusal from the
/// cache: the request goes to the store (where a wrong secret is refused by its check tag,
/// without argon2), and the cached entry stays.
pub async fn a_cache_mismatch_falls_back_to_the_store_not_to_a_refusal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    // The key's own change must be followed before warming, or it evicts the entry later.
    app.settle().await;
    assert_eq!(app.token_status("production", &key).await, 200);
    let jobs = app.metric("keymint_argon2_jobs_total").await;
    let misses = app.metric("keymint_token_cache_misses_total").await;
    let wrong = Key {
        secret: format!("{}x", key.secret),
        ..key.clone()
    };
    assert_eq!(app.token_status("production", &wrong).await, 401);
    assert_eq!(
        app.metric("keymint_token_cache_misses_total").await,
        misses + 1.0,
        "a mismatch must fall back to the store"
    );
    assert_eq!(app.metric("keymint_argon2_jobs_total").await, jobs);
    assert_eq!(
        app.token_status("production", &key).await,
        200,
        "a wrong secret must not evict or poison the entry"
    );
    assert_eq!(app.metric("keymint_argon2_jobs_total").await, jobs);
    // The warm key at another environment's endpoint is still refused.
    assert_eq!(app.token_status("sandbox", &key).await, 401);
}

pub async fn changes_invalidate_the_cache_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let manage = app.state.management();
    let disabled = app.key("alice", "production").await;
    let rotated = app.key("alice", "production").await;
    let owned = app.key("alice", "sandbox").await;
    app.settle().await;
    for (env, key) in [
        ("production", &disabled),
        ("production", &rotated),
        ("sandbox", &owned),
    ] {
        assert_eq!(app.token_status(env, key).await, 200);
    }
    assert_eq!(app.state.cache.len(), 3, "not cached after verification");

    manage
        .set_key_enabled(&ClientId::new(disabled.client_id.clone()), false, None)
        .await
        .unwrap();
    assert_eq!(
        app.token_status("production", &disabled).await,
        401,
        "disabled key served from the cache"
    );

    let new = manage
        .rotate_secret(&ClientId::new(rotated.client_id.clone()), None, None)
        .await
        .unwrap();
    assert_eq!(
        app.token_status("production", &rotated).await,
        401,
        "old secret served from the cache"
    );
    let renewed = Key {
        client_id: rotated.client_id.clone(),
        secret: new.secret.as_ref().unwrap().expose().to_owned(),
    };
    assert_eq!(app.token_status("production", &renewed).await, 200);

    manage
        .deactivate_user(&UserId::parse("alice").unwrap())
        .await
        .unwrap();
    assert_eq!(
        app.token_status("sandbox", &owned).await,
        401,
        "inactive owner served from the cache"
    );
    assert_eq!(app.state.cache.len(), 0);
}

/// With one argon2 thread and 40 ms of admitted queueing: 40 cold right secrets at once
/// are partly shed with 503 + `Retry-After` (the pool is full), 40 wrong secrets and
/// unknown ids at once are all refused (they never need the pool), and a warm client
/// is served throughout.
pub async fn a_flood_is_shed_or_refused_while_warm_clients_succeed(backend: Backend) {
    let app = Arc::new(
        TestApp::spawn_with(
            backend,
            &[
                ("KEYMINT_HASH_THREADS", "1"),
                ("KEYMINT_HASH_MAX_WAIT_MS", "40"),
            ],
        )
        .await,
    );
    app.user("alice", &["runs:read"]).await;
    let honest = app.key("alice", "production").await;
    let mut cold = Vec::new();
    for _ in 0..40 {
        cold.push(app.key("alice", "production").await);
    }
    app.settle().await;
    assert_eq!(app.token_status("production", &honest).await, 200);
    assert_eq!(app.state.cache.len(), 1, "the honest key is not warm");
    let wrong = Key {
        secret: "kms_wrong".into(),
        ..honest.clone()
    };
    let unknown = Key {
        client_id: "kmc_unknownunknownunknow".into(),
        ..honest.clone()
    };
    let send = |key: Key| {
        let app = app.clone();
        tokio::spawn(async move {
            let response = app
                .token_basic("production", &key, &[("grant_type", "client_credentials")])
                .await;
            let retry_after = response.headers().get("retry-after").is_some();
            (
                response.status().as_u16(),
                retry_after,
                response.json::<Value>().await.unwrap(),
            )
        })
    };
    let jobs = app.metric("keymint_argon2_jobs_total").await;
    let guesses: Vec<_> = (0..40)
        .map(|i| {
            send(if i % 2 == 0 {
                wrong.clone()
            } else {
                unknown.clone()
            })
        })
        .collect();
    let right: Vec<_> = cold.into_iter().map(send).collect();
    let warm: Vec<_> = (0..20)
        .map(|_| {
            let (app, key) = (app.clone(), honest.clone());
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                (
                    app.token_status("production", &key).await,
                    started.elapsed(),
                )
            })
        })
        .collect();
    // Guesses are refused (401; past the address's 20 failures, 429), never shed.
    let mut refused = 0;
    for request in guesses {
        match request.await.unwrap() {
            (401, _, body) => {
                assert_eq!(body["error"], "invalid_client");
                refused += 1;
            }
            (429, true, body) => assert_eq!(body["error"], "temporarily_unavailable"),
            other => panic!("a guess answered {other:?}"),
        }
    }
    assert_eq!(
        refused, 20,
        "the first 20 failures of an address are plain refusals"
    );
    let (mut shed, mut issued) = (0, 0);
    for request in right {
        match request.await.unwrap() {
            (503, true, body) => {
                assert_eq!(body["error"], "temporarily_unavailable");
                shed += 1;
            }
            (200, false, _) => issued += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(shed > 0 && issued > 0, "shed {shed}, issued {issued}");
    assert_eq!(
        app.metric("keymint_argon2_jobs_total").await - jobs,
        issued as f64,
        "argon2 ran for the right secrets it admitted, and for nothing else"
    );
    for request in warm {
        let (status, took) = request.await.unwrap();
        assert_eq!(status, 200, "a warm client was refused during the flood");
        assert!(
            took < Duration::from_secs(2),
            "a warm client waited {took:?}"
        );
    }
    assert!(app.metric("keymint_argon2_rejected_total").await >= shed as f64);
}

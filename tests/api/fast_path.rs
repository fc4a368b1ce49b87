//! The fast token path: verified-secret cache (hits skip argon2; every change invalidates),
//! and bounded argon2 (a flood answers 503 at once; warm clients are unaffected).

use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

use keymint::domain::{ClientId, UserId};

use crate::app::{Backend, Key, TestApp};

crate::both_backends!(fast_path:
    a_second_request_skips_argon2,
    wrong_secrets_fall_back_to_a_full_verification,
    changes_invalidate_the_cache_at_once,
    a_flood_of_wrong_secrets_is_shed_while_warm_clients_succeed,
);

pub async fn a_second_request_skips_argon2(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    app.settle().await;
    assert_eq!(app.token_status("production", &key).await, 200);
    assert_eq!(
        app.state.cache.cached_for(&UserId::parse("alice").unwrap()),
        1,
        "not cached after a verification"
    );
    let jobs = app.metric("keymint_argon2_jobs_total").await;
    let hits = app.metric("keymint_token_cache_hits_total").await;
    for _ in 0..5 {
        let body = app.mint("production", &key).await;
        crate::gateway::verify(&app, "production", body["access_token"].as_str().unwrap())
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

pub async fn wrong_secrets_fall_back_to_a_full_verification(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    assert_eq!(app.token_status("production", &key).await, 200);
    let jobs = app.metric("keymint_argon2_jobs_total").await;
    let wrong = Key {
        secret: format!("{}x", key.secret),
        ..key.clone()
    };
    assert_eq!(app.token_status("production", &wrong).await, 401);
    assert_eq!(
        app.metric("keymint_argon2_jobs_total").await,
        jobs + 1.0,
        "a mismatch must be verified, not rejected from the cache"
    );
    assert_eq!(
        app.token_status("production", &key).await,
        200,
        "a wrong secret must not evict or poison the entry"
    );
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
    let alice = UserId::parse("alice").unwrap();
    app.settle().await;
    for (env, key) in [
        ("production", &disabled),
        ("production", &rotated),
        ("sandbox", &owned),
    ] {
        assert_eq!(app.token_status(env, key).await, 200);
    }
    assert_eq!(
        app.state.cache.cached_for(&alice),
        3,
        "not cached after verification"
    );

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
        secret: new.secret.expose().to_owned(),
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
    assert_eq!(
        app.state.cache.cached_for(&UserId::parse("alice").unwrap()),
        0
    );
}

pub async fn a_flood_of_wrong_secrets_is_shed_while_warm_clients_succeed(backend: Backend) {
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
    let alice = UserId::parse("alice").unwrap();
    app.settle().await;
    assert_eq!(app.token_status("production", &honest).await, 200);
    assert_eq!(
        app.state.cache.cached_for(&alice),
        1,
        "the honest key is not warm"
    );
    let wrong = Key {
        secret: "kms_wrong".into(),
        ..honest.clone()
    };
    let unknown = Key {
        client_id: "kmc_unknownunknownunknow".into(),
        ..honest.clone()
    };

    let flood: Vec<_> = (0..40)
        .map(|i| {
            let (app, key) = (
                app.clone(),
                if i % 2 == 0 {
                    wrong.clone()
                } else {
                    unknown.clone()
                },
            );
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
        })
        .collect();
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
    let (mut shed, mut refused) = (0, 0);
    for request in flood {
        match request.await.unwrap() {
            (503, true, body) => {
                assert_eq!(body["error"], "temporarily_unavailable");
                shed += 1;
            }
            (401, false, body) => {
                assert_eq!(body["error"], "invalid_client");
                refused += 1;
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(shed > 0 && refused > 0, "shed {shed}, refused {refused}");
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

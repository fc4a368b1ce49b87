//! Introspection (RFC 7662) and revocation (RFC 7009).

use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;

use keymint::clock::Clock;
use keymint::domain::{ClientId, EnvironmentName, UserId};

use crate::app::{Backend, Key, TestApp};

crate::both_backends!(introspection:
    active_tokens_show_their_claims,
    every_inactive_case_answers_active_false,
    only_introspectors_may_introspect,
);

/// alice's key, and a gateway's key holding IntrospectToken.
pub(crate) async fn setup(app: &TestApp) -> (Key, Key) {
    app.user("alice", &["runs:read", "runs:write"]).await;
    app.user("gateway", &["IntrospectToken"]).await;
    (
        app.key("alice", "production").await,
        app.key("gateway", "production").await,
    )
}

pub(crate) async fn introspect(
    app: &TestApp,
    env: &str,
    caller: &Key,
    token: &str,
) -> (u16, Value) {
    let response = app
        .http
        .post(app.url(&format!("/{env}/oauth2/introspect")))
        .basic_auth(&caller.client_id, Some(&caller.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap())
}

pub(crate) async fn active(app: &TestApp, gateway: &Key, token: &str) -> bool {
    let (status, body) = introspect(app, "production", gateway, token).await;
    assert_eq!(status, 200, "{body}");
    if body["active"] == false {
        assert_eq!(
            body,
            json!({"active": false}),
            "inactive answers carry nothing else"
        );
    }
    body["active"] == true
}

pub(crate) async fn revoke(
    app: &TestApp,
    caller: &Key,
    token: &str,
    hint: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("token", token)];
    if let Some(h) = hint {
        form.push(("token_type_hint", h));
    }
    app.http
        .post(app.url("/production/oauth2/revoke"))
        .basic_auth(&caller.client_id, Some(&caller.secret))
        .form(&form)
        .send()
        .await
        .unwrap()
}

pub(crate) fn token_of(body: &Value) -> String {
    body["access_token"].as_str().unwrap().to_owned()
}

/// Signs arbitrary claims with the environment's active key (to build tokens a client
/// could not get from the token endpoint: not yet valid, wrong env claim).
fn forge(app: &TestApp, env: &str, claims: Value) -> String {
    let keys = app
        .state
        .keys
        .get(&EnvironmentName::parse(env).unwrap())
        .unwrap();
    keymint::signing::sign_jwt(&keys.active, &claims).unwrap()
}

pub async fn active_tokens_show_their_claims(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, gateway) = setup(&app).await;
    let token = token_of(&app.mint("production", &alice).await);
    let (status, body) = introspect(&app, "production", &gateway, &token).await;
    assert_eq!(status, 200);
    let claims = app.verify("production", &token).await.unwrap();
    assert_eq!(body["active"], true);
    for field in [
        "scope",
        "client_id",
        "sub",
        "aud",
        "iss",
        "exp",
        "iat",
        "nbf",
        "jti",
        "env",
        "permissions",
    ] {
        assert_eq!(body[field], claims[field], "{field}");
    }
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["client_id"], alice.client_id);
}

pub async fn every_inactive_case_answers_active_false(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, gateway) = setup(&app).await;
    let manage = app.state.management();
    let mint = |key: Key| {
        let app = &app;
        async move { token_of(&app.mint("production", &key).await) }
    };

    // Malformed, badly signed, of another environment, not yet valid.
    assert!(!active(&app, &gateway, "not-a-jwt").await);
    let good = mint(alice.clone()).await;
    // Change one character in the middle of the signature.
    let at = good.rfind('.').unwrap() + 20;
    let replacement = if &good[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{}{}", &good[..at], replacement, &good[at + 1..]);
    assert!(!active(&app, &gateway, &tampered).await, "bad signature");
    app.user("sandy", &["runs:read"]).await;
    let sandbox_key = app.key("sandy", "sandbox").await;
    assert!(
        !active(
            &app,
            &gateway,
            &token_of(&app.mint("sandbox", &sandbox_key).await)
        )
        .await,
        "other environment"
    );
    let mut claims = app.verify("production", &good).await.unwrap();
    let now = app.clock.now().unix_timestamp();
    claims["nbf"] = json!(now + 60);
    claims["jti"] = json!("forged-nbf");
    assert!(
        !active(&app, &gateway, &forge(&app, "production", claims.clone())).await,
        "not yet valid"
    );
    claims["nbf"] = json!(now);
    claims["env"] = json!("sandbox");
    assert!(
        !active(&app, &gateway, &forge(&app, "production", claims)).await,
        "env claim of another environment"
    );
    assert!(active(&app, &gateway, &good).await);

    // Revoked.
    let revoked = mint(alice.clone()).await;
    // Each token below is introspected once while active, so the change that follows must
    // take it out of the cache of verified tokens.
    assert!(active(&app, &gateway, &revoked).await);
    assert_eq!(revoke(&app, &alice, &revoked, None).await.status(), 200);
    assert!(!active(&app, &gateway, &revoked).await, "revoked");
    // Revoked before it was ever introspected: refused by the revocations held in memory.
    let unseen = mint(alice.clone()).await;
    assert_eq!(revoke(&app, &alice, &unseen, None).await.status(), 200);
    assert!(
        !active(&app, &gateway, &unseen).await,
        "revoked, never seen"
    );

    // Key disabled, deleted, expired.
    let disabled = app.key("alice", "production").await;
    let t_disabled = mint(disabled.clone()).await;
    // A second token of each key below is first introspected after the change: the
    // key's state, remembered from the first token, must have been dropped too.
    let t_disabled_unseen = mint(disabled.clone()).await;
    assert!(active(&app, &gateway, &t_disabled).await);
    manage
        .set_key_enabled(&ClientId::new(disabled.client_id.clone()), false, None)
        .await
        .unwrap();
    assert!(!active(&app, &gateway, &t_disabled).await, "key disabled");
    assert!(
        !active(&app, &gateway, &t_disabled_unseen).await,
        "key disabled, token unseen"
    );
    let deleted = app.key("alice", "production").await;
    let t_deleted = mint(deleted.clone()).await;
    let t_deleted_unseen = mint(deleted.clone()).await;
    assert!(active(&app, &gateway, &t_deleted).await);
    manage
        .delete_key(&ClientId::new(deleted.client_id.clone()), None)
        .await
        .unwrap();
    assert!(!active(&app, &gateway, &t_deleted).await, "key deleted");
    assert!(
        !active(&app, &gateway, &t_deleted_unseen).await,
        "key deleted, token unseen"
    );

    // Secret regenerated: without grace at once; with grace when the grace ends.
    let rotated = app.key("alice", "production").await;
    let t_rotated = mint(rotated.clone()).await;
    let t_rotated_unseen = mint(rotated.clone()).await;
    assert!(active(&app, &gateway, &t_rotated).await);
    manage
        .rotate_secret(&ClientId::new(rotated.client_id.clone()), None, None)
        .await
        .unwrap();
    assert!(
        !active(&app, &gateway, &t_rotated).await,
        "secret regenerated"
    );
    assert!(
        !active(&app, &gateway, &t_rotated_unseen).await,
        "secret regenerated, token unseen"
    );
    let graced = app.key("alice", "production").await;
    let t_graced = mint(graced.clone()).await;
    let renewed = manage
        .rotate_secret(
            &ClientId::new(graced.client_id.clone()),
            None,
            Some(time::Duration::seconds(120)),
        )
        .await
        .unwrap();
    let renewed = Key {
        client_id: graced.client_id.clone(),
        secret: renewed.secret.as_ref().unwrap().expose().to_owned(),
    };
    let t_renewed = mint(renewed).await;
    assert!(
        active(&app, &gateway, &t_graced).await,
        "old secret's token inactive during the grace period"
    );

    let expiring = app
        .key_with(
            "alice",
            "production",
            None,
            Some(app.clock.now_plus(time::Duration::seconds(200))),
        )
        .await;
    let t_expiring = mint(expiring).await;
    assert!(active(&app, &gateway, &t_expiring).await);
    app.clock.advance(time::Duration::seconds(121));
    assert!(
        !active(&app, &gateway, &t_graced).await,
        "old secret's token active after the grace period"
    );
    assert!(
        active(&app, &gateway, &t_renewed).await,
        "new secret's token inactive"
    );
    app.clock.advance(time::Duration::seconds(80));
    assert!(!active(&app, &gateway, &t_expiring).await, "key expired");

    // Owner inactive.
    let t_alice = mint(alice.clone()).await;
    let t_alice_unseen = mint(alice.clone()).await;
    assert!(active(&app, &gateway, &t_alice).await);
    manage
        .deactivate_user(&UserId::parse("alice").unwrap())
        .await
        .unwrap();
    assert!(!active(&app, &gateway, &t_alice).await, "owner inactive");
    assert!(
        !active(&app, &gateway, &t_alice_unseen).await,
        "owner inactive, token unseen"
    );

    // Token expired.
    let t_gw = mint(gateway.clone()).await;
    assert!(active(&app, &gateway, &t_gw).await);
    app.clock.advance(time::Duration::seconds(601));
    assert!(!active(&app, &gateway, &t_gw).await, "expired");
}

pub async fn only_introspectors_may_introspect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, gateway) = setup(&app).await;
    let token = token_of(&app.mint("production", &alice).await);
    let (status, body) = introspect(&app, "production", &alice, &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let wrong = Key {
        secret: "kms_wrong".into(),
        ..gateway.clone()
    };
    let (status, body) = introspect(&app, "production", &wrong, &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let no_token = app
        .http
        .post(app.url("/production/oauth2/introspect"))
        .basic_auth(&gateway.client_id, Some(&gateway.secret))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 400);
    // The gateway's key is of production: sandbox introspection refuses it.
    let (status, _) = introspect(&app, "sandbox", &gateway, &token).await;
    assert_eq!(status, 401);
}

mod postgres_two_instances {
    use super::*;

    /// A gateway introspects at B, in a tight loop, tokens it has never seen while A
    /// revokes them one by one: whatever B answered during the race, once B has followed
    /// the feed every revoked token is inactive at B (no "active" left in its cache).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn introspections_racing_revocations_leave_nothing_active_behind() {
        use std::sync::atomic::AtomicBool;
        let a = TestApp::spawn(Backend::Postgres).await;
        let b = a.spawn_peer().await;
        let (alice, gateway) = setup(&a).await;
        let mut tokens = Vec::new();
        for _ in 0..40 {
            tokens.push(token_of(&a.mint("production", &alice).await));
        }
        // B holds the key's state, so its answers come from memory.
        let warm = token_of(&a.mint("production", &alice).await);
        assert!(active(&b, &gateway, &warm).await);
        let done = AtomicBool::new(false);
        let racer = async {
            let mut rounds = 0;
            while !done.load(Ordering::SeqCst) {
                for token in &tokens {
                    introspect(&b, "production", &gateway, token).await;
                }
                rounds += 1;
            }
            rounds
        };
        let revoker = async {
            for token in &tokens {
                assert_eq!(revoke(&a, &alice, token, None).await.status(), 200);
            }
            b.settle().await;
            done.store(true, Ordering::SeqCst);
        };
        let (rounds, ()) = tokio::join!(racer, revoker);
        assert!(rounds > 0);
        for (i, token) in tokens.iter().enumerate() {
            assert!(
                !active(&b, &gateway, token).await,
                "token {i} revoked at A is still active at B after B followed the feed"
            );
        }
        assert!(
            active(&b, &gateway, &warm).await,
            "the unrevoked token stays active"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(keymint_pg),
        ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite"
    )]
    async fn every_change_at_one_instance_empties_the_other_instances_cache() {
        let a = TestApp::spawn(Backend::Postgres).await;
        let b = a.spawn_peer().await;
        let (alice, gateway) = setup(&a).await;
        a.user("carol", &["runs:read"]).await;
        let keys = [
            alice.clone(),
            a.key("alice", "production").await,
            a.key("alice", "production").await,
            a.key("alice", "production").await,
            a.key("carol", "production").await,
        ];
        let mut tokens = Vec::new();
        let mut unseen = Vec::new();
        for key in &keys {
            tokens.push(token_of(&a.mint("production", key).await));
            // Never introspected before the change: B has only the key's state (and the
            // revocations) in memory to go wrong with.
            unseen.push(token_of(&a.mint("production", key).await));
        }
        // B checks each token twice: the second answer comes from B's cache, which only
        // the change feed can empty.
        let hits = || {
            b.state
                .oauth
                .tokens
                .cache
                .stats()
                .hits
                .load(Ordering::Relaxed)
        };
        let before = hits();
        for token in &tokens {
            assert!(active(&b, &gateway, token).await && active(&b, &gateway, token).await);
        }
        assert_eq!(
            hits() - before,
            tokens.len() as u64,
            "B answers from its cache"
        );
        assert!(b.state.oauth.tokens.cache.len() >= tokens.len());

        // At A: a revocation, a disable, a deletion, a secret rotated with no grace, and
        // an owner deactivated.
        let manage = a.state.management();
        let id = |key: &Key| ClientId::new(key.client_id.clone());
        assert_eq!(revoke(&a, &alice, &tokens[0], None).await.status(), 200);
        assert_eq!(revoke(&a, &alice, &unseen[0], None).await.status(), 200);
        manage
            .set_key_enabled(&id(&keys[1]), false, None)
            .await
            .unwrap();
        manage.delete_key(&id(&keys[2]), None).await.unwrap();
        manage
            .rotate_secret(&id(&keys[3]), None, None)
            .await
            .unwrap();
        manage
            .deactivate_user(&UserId::parse("carol").unwrap())
            .await
            .unwrap();
        let whats = [
            "revoked",
            "disabled",
            "deleted",
            "rotated",
            "owner deactivated",
        ];
        for (token, what) in tokens.iter().chain(&unseen).zip(whats.iter().cycle()) {
            let took = TestApp::eventually(Duration::from_secs(1), || async {
                !active(&b, &gateway, token).await
            })
            .await;
            assert!(
                took.is_some(),
                "a token whose key was {what} at A is still active at B after 1 s"
            );
        }
        // A token nothing happened to stays active at B.
        let untouched = token_of(&a.mint("production", &gateway).await);
        assert!(active(&b, &gateway, &untouched).await && active(&b, &gateway, &untouched).await);
    }
}

//! Revocation (RFC 7009): clients revoke their own tokens, and a revocation holds on
//! every path introspection takes.

use serde_json::Value;

use keymint::clock::Clock;
use keymint::domain::{ClientId, EnvironmentName};

use crate::app::{Backend, TestApp};
use crate::introspection::{active, revoke, setup, token_of};

crate::both_backends!(revocation:
    a_revocation_is_honoured_while_the_revocations_reload,
    clients_revoke_their_own_tokens_only,
);

/// A key revokes at most `REVOCATIONS_PER_MINUTE` of its tokens per minute on one
/// instance (each revocation is a change every instance applies); past it, `429` with
/// `Retry-After` and nothing revoked. Another key is not affected. SQLite alone: the
/// quota is the instance's, whatever the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_cannot_flood_the_feed_with_revocations() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (alice, gateway) = setup(&app).await;
    let quota = keymint::oauth::REVOCATIONS_PER_MINUTE as usize;
    for _ in 0..quota {
        let token = token_of(&app.mint("production", &alice).await);
        assert_eq!(revoke(&app, &alice, &token, None).await.status(), 200);
    }
    let one_more = token_of(&app.mint("production", &alice).await);
    let refused = revoke(&app, &alice, &one_more, None).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(
        active(&app, &gateway, &one_more).await,
        "nothing was revoked"
    );
    // The quota is the key's: another key revokes its own tokens all the same.
    let theirs = token_of(&app.mint("production", &gateway).await);
    assert_eq!(revoke(&app, &gateway, &theirs, None).await.status(), 200);
    // A minute later the key may revoke again.
    app.clock.advance(time::Duration::seconds(60));
    let later = token_of(&app.mint("production", &alice).await);
    assert_eq!(revoke(&app, &alice, &later, None).await.status(), 200);
}

/// After `Change::All` (a reconnect: anything may have been missed) the revocations held
/// in memory are incomplete until reloaded; meanwhile a jti they do not hold is looked up in
/// the database. Here a revocation is written by the store alone, as another instance
/// would, so this instance's list has not heard of it (until its feed loop reads the row
/// or reloads: either way the answer must be inactive).
pub async fn a_revocation_is_honoured_while_the_revocations_reload(backend: Backend) {
    use keymint::changes::Change;
    use keymint::domain::{Actor, ChangeSource};
    use keymint::store::{TokenRevocation, WriteContext};

    let app = TestApp::spawn(backend).await;
    let (alice, gateway) = setup(&app).await;
    for round in 0..20 {
        let token = token_of(&app.mint("production", &alice).await);
        let claims = app.verify("production", &token).await.unwrap();
        let now = app.clock.now();
        app.state
            .store
            .revoke_token(
                &TokenRevocation {
                    jti: claims["jti"].as_str().unwrap().to_owned(),
                    environment: EnvironmentName::parse("production").unwrap(),
                    client_id: Some(ClientId::new(alice.client_id.clone())),
                    user_id: None,
                    expires_at: time::OffsetDateTime::from_unix_timestamp(
                        claims["exp"].as_i64().unwrap(),
                    )
                    .unwrap(),
                },
                &WriteContext {
                    now,
                    actor: Actor::system(ChangeSource::OAuth),
                    request_id: None,
                },
            )
            .await
            .unwrap();
        app.state.changes.publish(Change::All);
        assert!(
            !active(&app, &gateway, &token).await,
            "round {round}: a revocation missed while the list reloads"
        );
    }
}

pub async fn clients_revoke_their_own_tokens_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, gateway) = setup(&app).await;
    app.user("bob", &["runs:read"]).await;
    let bob = app.key("bob", "production").await;
    let token = token_of(&app.mint("production", &alice).await);

    let foreign = revoke(&app, &bob, &token, None).await;
    assert_eq!(
        foreign.status(),
        400,
        "RFC 7009 §2.1: another client's token"
    );
    assert_eq!(foreign.headers()["cache-control"], "no-store");
    assert_eq!(
        foreign.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    assert!(
        active(&app, &gateway, &token).await,
        "a foreign revocation had an effect"
    );

    assert_eq!(
        revoke(&app, &alice, "garbage", None).await.status(),
        200,
        "unknown tokens answer 200"
    );
    let refresh = revoke(&app, &alice, &token, Some("refresh_token")).await;
    assert_eq!(refresh.status(), 400);
    assert_eq!(
        refresh.json::<Value>().await.unwrap()["error"],
        "unsupported_token_type"
    );
    assert!(active(&app, &gateway, &token).await);

    assert_eq!(
        revoke(&app, &alice, &token, Some("access_token"))
            .await
            .status(),
        200
    );
    assert_eq!(
        revoke(&app, &alice, &token, None).await.status(),
        200,
        "already revoked answers 200"
    );
    assert!(!active(&app, &gateway, &token).await);
    // One audit entry, however often it was revoked: the token, its key, who, how.
    let query = keymint::store::AuditQuery {
        client_id: Some(alice.client_id.clone()),
        limit: 100,
        ..Default::default()
    };
    let (entries, _) = app.state.store.list_audit(&query).await.unwrap();
    let revoked: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "token.revoked")
        .collect();
    assert_eq!(revoked.len(), 1, "{entries:?}");
    let claims = app.verify("production", &token).await.unwrap();
    let entry = revoked[0];
    assert_eq!(entry.target.as_deref(), claims["jti"].as_str());
    assert_eq!(entry.environment.as_deref(), Some("production"));
    assert_eq!(entry.user_id.as_deref(), Some("alice"));
    assert_eq!(
        entry.actor_client_id.as_deref(),
        Some(alice.client_id.as_str())
    );
    assert_eq!(entry.source, "oauth");
    assert!(entry.request_id.is_some());
    // A revoked token no longer opens the management API either.
    let (_, body) = app
        .graphql(
            "production",
            Some(&token),
            crate::graphql::LIST,
            Value::Null,
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

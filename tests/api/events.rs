//! User-lifecycle events: the signed webhook on both backends; the PostgreSQL table,
//! two instances on one database, catch-up and listener reconnects on PostgreSQL.

use serde_json::{Value, json};
use std::time::Duration;

use keymint::changes::Change;
use keymint::clock::Clock;
use keymint::domain::UserId;
use keymint::events::{WebhookSecret, sign};

use crate::app::{Backend, TestApp};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

crate::both_backends!(events:
    webhook_applies_signed_events,
    webhook_refuses_bad_signatures_stale_timestamps_and_bad_bodies,
    webhook_replays_are_applied_once,
    webhook_is_off_without_a_secret,
    no_token_is_issued_after_a_deactivation_commits,
    cli_changes_reach_a_running_instance,
);

async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, &[("KEYMINT_WEBHOOK_SECRET", SECRET)]).await
}

/// Delivers `body` as the sender would, with `signature` overriding the computed one.
async fn deliver(
    app: &TestApp,
    id: &str,
    timestamp: i64,
    body: &str,
    signature: Option<&str>,
) -> reqwest::Response {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let signature = signature.map_or_else(
        || sign(&secret, id, timestamp, body.as_bytes()),
        str::to_owned,
    );
    app.http
        .post(app.url("/hooks/user-events"))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn send(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    deliver(
        app,
        id,
        app.clock.now().unix_timestamp(),
        &body.to_string(),
        None,
    )
    .await
}

fn deactivated(id: &str) -> Value {
    json!({"type": "user.deactivated", "data": {"id": id}})
}

pub async fn webhook_applies_signed_events(backend: Backend) {
    let app = spawn(backend).await;
    let upsert = json!({"type": "user.upserted", "data": {"id": "alice", "email": "a@example.com", "serviceAccount": false, "permissions": ["runs:read"]}});
    let response = send(&app, "msg_1", upsert).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "applied");
    let user = app
        .state
        .store
        .get_user(&UserId::parse("alice").unwrap())
        .await
        .unwrap();
    assert_eq!(user.permissions.to_scope(), "runs:read");

    let prod = app.key("alice", "production").await;
    let sandbox = app.key("alice", "sandbox").await;
    assert_eq!(app.token_status("production", &prod).await, 200);

    assert_eq!(
        send(&app, "msg_2", deactivated("alice")).await.status(),
        200
    );
    assert_eq!(app.token_status("production", &prod).await, 401);
    assert_eq!(app.token_status("sandbox", &sandbox).await, 401);
    assert_eq!(app.audit_count("alice", "key.disabled").await, 2);

    assert_eq!(
        send(
            &app,
            "msg_3",
            json!({"type": "user.reactivated", "data": {"id": "alice"}})
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        app.token_status("production", &prod).await,
        401,
        "reactivation must not re-enable keys"
    );
    let fresh = app.key("alice", "production").await;
    assert_eq!(
        app.token_status("production", &fresh).await,
        200,
        "a reactivated user can have keys again"
    );
}

pub async fn webhook_refuses_bad_signatures_stale_timestamps_and_bad_bodies(backend: Backend) {
    let app = spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let now = app.clock.now().unix_timestamp();
    let body = deactivated("alice").to_string();
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let other = WebhookSecret::parse("whsec_b3RoZXItc2VjcmV0").unwrap();

    let cases: Vec<(&str, reqwest::Response, u16)> = vec![
        (
            "signed with another secret",
            deliver(
                &app,
                "m1",
                now,
                &body,
                Some(&sign(&other, "m1", now, body.as_bytes())),
            )
            .await,
            401,
        ),
        (
            "signature of another body",
            deliver(
                &app,
                "m2",
                now,
                &body,
                Some(&sign(&secret, "m2", now, b"{}")),
            )
            .await,
            401,
        ),
        (
            "not a signature",
            deliver(&app, "m3", now, &body, Some("v1,bm9wZQ==")).await,
            401,
        ),
        (
            "six minutes old",
            deliver(&app, "m4", now - 360, &body, None).await,
            400,
        ),
        (
            "six minutes ahead",
            deliver(&app, "m5", now + 360, &body, None).await,
            400,
        ),
        (
            "malformed JSON",
            deliver(&app, "m6", now, "{\"type\": \"user.deactivated\",", None).await,
            422,
        ),
        (
            "unknown event type",
            deliver(
                &app,
                "m7",
                now,
                &json!({"type": "user.deleted", "data": {"id": "alice"}}).to_string(),
                None,
            )
            .await,
            422,
        ),
        (
            "missing data.id",
            deliver(
                &app,
                "m8",
                now,
                &json!({"type": "user.deactivated", "data": {}}).to_string(),
                None,
            )
            .await,
            422,
        ),
    ];
    for (name, response, status) in cases {
        assert_eq!(response.status(), status, "{name}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{name}: no clear message"
        );
    }
    let missing = app
        .http
        .post(app.url("/hooks/user-events"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400, "no webhook headers");

    // None of the refused deliveries had an effect.
    assert_eq!(app.token_status("production", &key).await, 200);
    assert_eq!(app.audit_count("alice", "user.deactivated").await, 0);

    // Several signatures in one header: any valid v1 one is enough.
    let valid = sign(&secret, "m9", now, body.as_bytes());
    let header = format!("v1,{} v2,whatever {valid}", "AAAA");
    assert_eq!(
        deliver(&app, "m9", now, &body, Some(&header))
            .await
            .status(),
        200
    );
    assert_eq!(app.token_status("production", &key).await, 401);
}

pub async fn webhook_replays_are_applied_once(backend: Backend) {
    let app = spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    app.key("alice", "production").await;
    let first = send(&app, "msg_same", deactivated("alice")).await;
    assert_eq!(first.json::<Value>().await.unwrap()["status"], "applied");
    // The sender retries (e.g. it did not see our answer): same id, same body.
    let replay = send(&app, "msg_same", deactivated("alice")).await;
    assert_eq!(
        replay.status(),
        200,
        "a replay is acknowledged so the sender stops retrying"
    );
    assert_eq!(replay.json::<Value>().await.unwrap()["status"], "duplicate");
    assert_eq!(
        app.metric("keymint_webhook_events_applied_total").await,
        1.0
    );
    assert_eq!(app.audit_count("alice", "user.deactivated").await, 1);
    assert_eq!(app.audit_count("alice", "key.disabled").await, 1);
}

pub async fn webhook_is_off_without_a_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = send(&app, "m1", deactivated("alice")).await;
    assert_eq!(response.status(), 404);
}

pub async fn no_token_is_issued_after_a_deactivation_commits(backend: Backend) {
    let app = spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let app = std::sync::Arc::new(app);

    // Clients hammer the token endpoint while the deactivation arrives.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let (app, key, stop, served) = (app.clone(), key.clone(), stop.clone(), served.clone());
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let started = std::time::Instant::now();
                    let response = app
                        .token_basic("production", &key, &[("grant_type", "client_credentials")])
                        .await;
                    let status = response.status().as_u16();
                    if status == 200 {
                        served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    let body: Value = response.json().await.unwrap();
                    outcomes.push((started, status, body));
                }
                outcomes
            })
        })
        .collect();
    // The deactivation arrives once tokens are flowing (on a loaded machine the first
    // cold verifications can take a while), and while requests are still in flight.
    let flowing = TestApp::eventually(Duration::from_secs(10), || async {
        served.load(std::sync::atomic::Ordering::Relaxed) > 0
    })
    .await;
    assert!(flowing.is_some(), "no token was issued within 10 s");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let response = send(&app, "msg_deactivate", deactivated("alice")).await;
    assert_eq!(response.status(), 200);
    let committed = std::time::Instant::now(); // the commit happened before the 200
    // Move the clock on: a token signed from now on would carry a later iat.
    let committed_unix = app.clock.now().unix_timestamp();
    app.clock.advance(time::Duration::seconds(10));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);

    let mut issued = 0;
    for client in clients {
        for (started, status, body) in client.await.unwrap() {
            if started > committed {
                assert_eq!(
                    status, 401,
                    "a request sent after the deactivation got a token"
                );
            }
            if status == 200 {
                issued += 1;
                let claims = app
                    .verify("production", body["access_token"].as_str().unwrap())
                    .await
                    .unwrap();
                assert!(
                    claims["iat"].as_i64().unwrap() <= committed_unix,
                    "token issued after the deactivation"
                );
            }
        }
    }
    assert!(
        issued > 0,
        "no token was issued before the deactivation; the test proves nothing"
    );
}

pub async fn cli_changes_reach_a_running_instance(backend: Backend) {
    // A change made outside this process (here: through another store handle, as the
    // CLI does) reaches the instance's change feed through the database.
    let app = spawn(backend).await;
    app.user("alice", &["runs:read"]).await;
    let key = app.key("alice", "production").await;
    let mut feed = app.state.changes.subscribe();
    let other = keymint::store::connect(&app.db_url).await.unwrap();
    let cli = keymint::manage::Management::new(
        other,
        std::sync::Arc::new(keymint::secrets::SecretHasher::new(
            1,
            std::time::Duration::from_secs(5),
        )),
        std::sync::Arc::new(keymint::clock::SystemClock),
        std::sync::Arc::new(keymint::changes::ChangeFeed::default()),
    );
    cli.set_key_enabled(
        &keymint::domain::ClientId::new(key.client_id.clone()),
        false,
        None,
    )
    .await
    .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            if let Ok(Change::Key(id)) = feed.recv().await
                && id.as_str() == key.client_id
            {
                return;
            }
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "the running instance did not hear of the change within 1 s"
    );
    assert_eq!(app.token_status("production", &key).await, 401);
}

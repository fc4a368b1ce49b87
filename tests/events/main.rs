//! Outgoing lifecycle events, received by a real receiver that verifies every delivery
//! with the Standard Webhooks reference library (`tests/events/receiver.py`, the
//! `standardwebhooks` package `.ci/run` installs in the test virtualenv): every event type
//! arrives signed and in order per key; nothing is lost while the receiver is down, and it
//! all arrives once it is back; two instances never send one event twice; an expiry
//! warning is sent once across instances. Enabled with the other external-tool tests
//! (KEYMINT_TEST_GATEWAY=1, KEYMINT_TEST_SCIM_PYTHON).

#[path = "../support/mod.rs"]
mod support;

#[path = "../api/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "../api/gateway.rs"]
#[allow(dead_code)]
mod gateway;

mod crash;
mod receiver;

use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

use app::{Backend, Key, TestApp};
use keymint::clock::Clock;
use keymint::domain::{ClientId, UserId};
use keymint::manage::KeyChangeRequest;
use receiver::{Receiver, SECRET};

async fn spawn_app(backend: Backend, receiver: &Receiver) -> TestApp {
    TestApp::spawn_with(
        backend,
        &[
            ("KEYMINT_EVENTS_URL", &receiver.url),
            ("KEYMINT_EVENTS_SECRET", SECRET),
        ],
    )
    .await
}

fn client_id(key: &Key) -> ClientId {
    ClientId::new(key.client_id.clone())
}

/// The event types received for `subject` (a client id), in arrival order.
fn types_of(received: &[(String, Value)], subject: &str) -> Vec<String> {
    received
        .iter()
        .filter(|(_, e)| e["data"]["clientId"] == subject)
        .map(|(_, e)| e["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn every_event_type_arrives_signed_and_in_order(backend: Backend) {
    let receiver = Receiver::start();
    let app = spawn_app(backend, &receiver).await;
    let peer = app
        .spawn_peer_with(&[
            ("KEYMINT_EVENTS_URL", &receiver.url),
            ("KEYMINT_EVENTS_SECRET", SECRET),
        ])
        .await;
    app.user("alice", &["runs:read"]).await;
    let manage = app.state.management();
    let main = app.key("alice", "production").await;
    let id = client_id(&main);
    manage
        .update_key(
            &id,
            KeyChangeRequest {
                edit: keymint::domain::KeyEdit {
                    name: Some(Some("nightly".into())),
                    ..Default::default()
                },
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    manage.set_key_enabled(&id, false, None).await.unwrap();
    manage.set_key_enabled(&id, true, None).await.unwrap();
    let rotated = manage
        .update_key(
            &id,
            KeyChangeRequest {
                regenerate_secret: true,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let new_secret = rotated.secret.unwrap().expose().to_owned();
    // A key created inside the warning period (7 days) is warned about; at both
    // instances' scans, once.
    let soon = app
        .key_with(
            "alice",
            "production",
            None,
            Some(app.clock.now_plus(time::Duration::days(3))),
        )
        .await;
    keymint::sync::warn_expiring(&app.state.sync_task())
        .await
        .unwrap();
    keymint::sync::warn_expiring(&peer.state.sync_task())
        .await
        .unwrap();
    manage.delete_key(&id, None).await.unwrap();
    let other = app.key("alice", "sandbox").await;
    manage
        .deactivate_user(&UserId::parse("alice").unwrap())
        .await
        .unwrap();

    let received = receiver.wait_for(12).await;
    assert_eq!(
        types_of(&received, &main.client_id),
        [
            "key.created",
            "key.updated",
            "key.disabled",
            "key.enabled",
            "key.secret_rotated",
            "key.deleted"
        ]
    );
    assert_eq!(
        types_of(&received, &soon.client_id),
        ["key.created", "key.expiring", "key.disabled"]
    );
    assert_eq!(
        types_of(&received, &other.client_id),
        ["key.created", "key.disabled"]
    );
    let deactivated: Vec<&Value> = received
        .iter()
        .map(|(_, e)| e)
        .filter(|e| e["type"] == "user.deactivated")
        .collect();
    assert_eq!(deactivated.len(), 1);
    let mut disabled: Vec<&str> = deactivated[0]["data"]["clientIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    disabled.sort_unstable();
    let mut expected = [soon.client_id.as_str(), other.client_id.as_str()];
    expected.sort_unstable();
    assert_eq!(disabled, expected);
    // Bodies per the contract, never a secret.
    let updated = received
        .iter()
        .find(|(_, e)| e["type"] == "key.updated")
        .unwrap();
    assert_eq!(updated.1["data"]["name"], "nightly");
    assert_eq!(updated.1["data"]["owner"], "alice");
    assert_eq!(updated.1["data"]["environment"], "production");
    assert!(updated.1["timestamp"].is_string());
    let text = std::fs::read_to_string(&receiver.out).unwrap();
    for secret in [&main.secret, &new_secret, &soon.secret, &other.secret] {
        assert!(!text.contains(secret.as_str()), "a secret in an event");
    }
    // Each event once, even with two instances delivering.
    let mut ids: Vec<&str> = received.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), received.len(), "an event was sent twice");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.received().len(), 12, "nothing more, nothing again");

    // Past its expiry: key.expired (the soon key is disabled already, so a fresh one).
    app.user("bob", &["runs:read"]).await;
    let short = app
        .key_with(
            "bob",
            "production",
            None,
            Some(app.clock.now_plus(time::Duration::days(1))),
        )
        .await;
    app.clock.advance(time::Duration::days(2));
    peer.clock.advance(time::Duration::days(2));
    let received = receiver.wait_for(14).await;
    assert_eq!(
        types_of(&received, &short.client_id),
        ["key.created", "key.expired"],
        "the sweep expires it; no warning once it has expired"
    );
}

async fn nothing_is_lost_while_the_receiver_is_down(backend: Backend) {
    let mut receiver = Receiver::start();
    receiver.stop();
    let app = spawn_app(backend, &receiver).await;
    let peer = app
        .spawn_peer_with(&[
            ("KEYMINT_EVENTS_URL", &receiver.url),
            ("KEYMINT_EVENTS_SECRET", SECRET),
        ])
        .await;
    app.user("carol", &["runs:read"]).await;
    let mut keys = Vec::new();
    for _ in 0..5 {
        let key = app.key("carol", "production").await;
        app.state
            .management()
            .set_key_enabled(&client_id(&key), false, None)
            .await
            .unwrap();
        keys.push(key);
    }
    // Attempts fail and are counted; the events wait in the outbox.
    let failed = TestApp::eventually(Duration::from_secs(5), || async {
        app.metric("keymint_events_failed_total").await
            + peer.metric("keymint_events_failed_total").await
            >= 5.0
    })
    .await;
    assert!(failed.is_some(), "deliveries to a dead receiver failed");
    let outbox = app.state.store.outbox_state().await.unwrap();
    assert_eq!((outbox.pending, outbox.set_aside), (10, 0));
    // The receiver comes back; the retries fall due (backoff: seconds, with jitter).
    receiver.restart();
    for at in [&app, &peer] {
        at.clock.advance(time::Duration::minutes(5));
    }
    let received = receiver.wait_for(10).await;
    for key in &keys {
        assert_eq!(
            types_of(&received, &key.client_id),
            ["key.created", "key.disabled"],
            "in order per key"
        );
    }
    // A delivered event leaves the outbox once the receiver's answer is in.
    let emptied = TestApp::eventually(Duration::from_secs(2), || async {
        app.state.store.outbox_state().await.unwrap().pending == 0
    })
    .await;
    assert!(emptied.is_some(), "delivered events leave the outbox");

    // Down for more than the 24-hour window: set aside, then redelivered by hand.
    receiver.stop();
    let late = app.key("carol", "production").await;
    let set_aside = TestApp::eventually(Duration::from_secs(20), || async {
        for at in [&app, &peer] {
            at.clock.advance(time::Duration::hours(2));
        }
        app.state.store.outbox_state().await.unwrap().set_aside == 1
    })
    .await;
    assert!(set_aside.is_some(), "set aside after 24 hours");
    let listed = app.state.store.list_events(true, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_error.is_some());
    receiver.restart();
    let now = app.clock.now();
    assert_eq!(app.state.store.retry_events(None, now).await.unwrap(), 1);
    let received = receiver.wait_for(11).await;
    assert_eq!(types_of(&received, &late.client_id), ["key.created"]);
    let counted: HashMap<&str, usize> = received.iter().fold(HashMap::new(), |mut m, (id, _)| {
        *m.entry(id.as_str()).or_default() += 1;
        m
    });
    assert!(counted.values().all(|n| *n == 1), "sent once each");
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(keymint_gateway),
                ignore = "set KEYMINT_TEST_GATEWAY=1 and KEYMINT_TEST_SCIM_PYTHON (.ci/run installs standardwebhooks)"
            )]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(all(keymint_gateway, keymint_pg)),
                ignore = "set KEYMINT_TEST_GATEWAY=1, KEYMINT_TEST_SCIM_PYTHON and KEYMINT_TEST_POSTGRES_URL"
            )]
            async fn postgres() {
                super::$name(Backend::Postgres).await;
            }
        }
    };
}

both!(every_event_type_arrives_signed_and_in_order);
both!(nothing_is_lost_while_the_receiver_is_down);

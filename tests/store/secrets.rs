//! Secrets: credentials, grace periods, atomic updates, check tags, last use.

use std::sync::Arc;
use time::Duration;

use keymint::domain::DisabledReason;
use keymint::store::{Activation, AuditQuery, KeyUpdate, KeyUse, NewSecret, Store};

use crate::fixtures::*;

pub async fn credentials_carry_hash_and_owner_state(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    let creds = store
        .find_credentials(&key.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.key, key);
    assert!(creds.owner_active);
    assert!(creds.secret.hash.starts_with("$argon2id$"));
    assert!(
        !format!("{creds:?}").contains("argon2id"),
        "Debug must redact the hash"
    );
    deactivate(&store, "alice").await.unwrap();
    assert!(
        !store
            .find_credentials(&key.client_id)
            .await
            .unwrap()
            .unwrap()
            .owner_active
    );
}

pub async fn a_grace_period_keeps_the_previous_secret_until_it_ends(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    let old_hash = store
        .find_credentials(&key.client_id)
        .await
        .unwrap()
        .unwrap()
        .secret
        .hash;
    let until = now() + Duration::minutes(10);
    let with_grace = KeyUpdate {
        secret: Some(NewSecret {
            secret: stored("$argon2id$second"),
            grace_until: Some(until),
            hint: "cond".into(),
        }),
        ..Default::default()
    };
    store
        .update_key(&key.client_id, &with_grace, &ctx())
        .await
        .unwrap();
    let creds = store
        .find_credentials(&key.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        creds
            .accepted(now())
            .map(|s| s.hash.as_str())
            .collect::<Vec<_>>(),
        ["$argon2id$second", old_hash.as_str()]
    );
    assert_eq!(
        creds
            .accepted(until)
            .map(|s| s.hash.as_str())
            .collect::<Vec<_>>(),
        ["$argon2id$second"],
        "grace ends at `until`"
    );

    // A rotation without grace drops the previous secret at once.
    store
        .update_key(
            &key.client_id,
            &update(KeyChange::ReplaceSecret("$argon2id$third".into()), None),
            &ctx(),
        )
        .await
        .unwrap();
    let creds = store
        .find_credentials(&key.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        creds
            .accepted(now())
            .map(|s| s.hash.as_str())
            .collect::<Vec<_>>(),
        ["$argon2id$third"]
    );
}

pub async fn one_update_can_disable_and_regenerate_atomically(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    let both = KeyUpdate {
        activation: Some(Activation::Disable(DisabledReason::Manual)),
        secret: Some(NewSecret {
            secret: stored("$argon2id$new"),
            grace_until: None,
            hint: "_new".into(),
        }),
        expected_etag: Some(key.etag.clone()),
        ..KeyUpdate::default()
    };
    let updated = store
        .update_key(&key.client_id, &both, &ctx())
        .await
        .unwrap();
    assert!(!updated.enabled);
    let actions = audit_actions(
        &store,
        AuditQuery {
            client_id: Some(key.client_id.to_string()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        actions,
        ["key.created", "key.disabled", "key.secret_regenerated"]
    );
}

/// Check tags travel with their secrets: a rotation with grace keeps the old tag beside
/// the old hash, and a tag is recorded only beside the hash it was verified against, once.
pub async fn check_tags_travel_with_their_secrets(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let mut untagged = new_key("alice", "production", None);
    untagged.secret.check = None;
    let key = store.create_key(&untagged, &ctx()).await.unwrap();
    let read = || async {
        store
            .find_credentials(&key.client_id)
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(read().await.secret.check, None);
    let hash = untagged.secret.hash.clone();
    let feed_before = store.latest_change().await.unwrap();
    store
        .record_secret_check(&key.client_id, "$argon2id$other", "wrong")
        .await
        .unwrap();
    assert_eq!(read().await.secret.check, None, "only beside its own hash");
    store
        .record_secret_check(&key.client_id, &hash, "t1")
        .await
        .unwrap();
    store
        .record_secret_check(&key.client_id, &hash, "t2")
        .await
        .unwrap();
    assert_eq!(read().await.secret.check.as_deref(), Some("t1"));
    assert_eq!(
        store.latest_change().await.unwrap(),
        feed_before,
        "a tag is not a change of the key"
    );
    assert_eq!(read().await.key, key, "nor does it move the etag");

    let with_grace = KeyUpdate {
        secret: Some(NewSecret {
            secret: stored("$argon2id$next"),
            grace_until: Some(now() + Duration::minutes(5)),
            hint: "next".into(),
        }),
        ..Default::default()
    };
    store
        .update_key(&key.client_id, &with_grace, &ctx())
        .await
        .unwrap();
    let creds = read().await;
    assert_eq!(creds.secret.check.as_deref(), Some("tag-of-$argon2id$next"));
    let (previous, _) = creds.previous_secret.unwrap();
    assert_eq!(
        (previous.hash.as_str(), previous.check.as_deref()),
        (hash.as_str(), Some("t1"))
    );
}

pub async fn last_use_is_recorded_without_changing_the_key(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    let feed_before = store.latest_change().await.unwrap();
    let used = now() + Duration::minutes(3);
    let at = |at, ip: &str| KeyUse {
        client_id: key.client_id.clone(),
        at,
        ip: Some(ip.parse().unwrap()),
    };
    store
        .record_last_used(&[at(used, "203.0.113.7")])
        .await
        .unwrap();
    store
        .record_last_used(&[at(used - Duration::minutes(2), "198.51.100.1")])
        .await
        .unwrap();
    let read = store.get_key(&key.client_id).await.unwrap();
    assert_eq!(
        (read.last_used_at, read.last_used_ip),
        (Some(used), Some("203.0.113.7".parse().unwrap())),
        "an older use must not overwrite a newer one"
    );
    // Another address within the same minute is the one of last use.
    store
        .record_last_used(&[at(used, "2001:db8::5")])
        .await
        .unwrap();
    let read = store.get_key(&key.client_id).await.unwrap();
    assert_eq!(read.last_used_ip, Some("2001:db8::5".parse().unwrap()));
    assert_eq!(read.etag, key.etag, "last use is not a change of the key");
    assert_eq!(store.latest_change().await.unwrap(), feed_before);
}

/// Last-use times are kept to the minute; one noted in the minute a key was created must
/// not read as earlier than its creation.
pub async fn last_use_is_never_before_creation(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    let same_minute = key.created_at - Duration::seconds(30);
    store
        .record_last_used(&[KeyUse {
            client_id: key.client_id.clone(),
            at: same_minute,
            ip: None,
        }])
        .await
        .unwrap();
    let read = store.get_key(&key.client_id).await.unwrap();
    assert_eq!(read.last_used_at, Some(key.created_at));
}

/// The hint (the secret's last four characters) is stored with the key, replaced by a new
/// secret and kept by every other change.
pub async fn the_secret_hint_follows_the_current_secret(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    let created_hint = key.secret_hint.clone().expect("a new key has a hint");
    assert_eq!(created_hint.len(), 4);
    assert!(key.client_id.as_str().ends_with(&created_hint));
    let disabled = store
        .update_key(
            &key.client_id,
            &update(KeyChange::Disable(DisabledReason::Manual), None),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(disabled.secret_hint.as_deref(), Some(created_hint.as_str()));
    let rotated = store
        .update_key(
            &key.client_id,
            &update(KeyChange::ReplaceSecret("$argon2id$newABCD".into()), None),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(rotated.secret_hint.as_deref(), Some("ABCD"));
    let read = store.get_key(&key.client_id).await.unwrap();
    assert_eq!(read.secret_hint.as_deref(), Some("ABCD"));
}

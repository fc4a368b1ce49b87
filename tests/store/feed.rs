//! The change feed and expiry: every change leaves a row, expired keys are audited.

use std::sync::Arc;
use time::Duration;

use keymint::domain::{Actor, DisabledReason, KeyEdit, UserId};
use keymint::store::{AuditQuery, KeyUpdate, Store, TokenRevocation, WriteContext};

use crate::fixtures::*;

pub async fn every_change_appends_to_the_change_feed(store: Arc<dyn Store>) {
    let start = store.latest_change().await.unwrap();
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    store
        .update_key(
            &key.client_id,
            &update(KeyChange::Disable(DisabledReason::Manual), None),
            &ctx(),
        )
        .await
        .unwrap();
    deactivate(&store, "alice").await.unwrap();
    store
        .delete_key(&key.client_id, None, &ctx())
        .await
        .unwrap();
    let changes: Vec<(String, String)> = store
        .changes_since(start, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.subject))
        .collect();
    let key_id = key.client_id.to_string();
    let expected = [
        ("user", "alice"),
        ("key", &key_id),
        ("key", &key_id),
        ("user", "alice"),
        ("key", &key_id),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, s)| (k.to_string(), s.to_string()))
        .collect();
    assert_eq!(changes, expected);
    assert!(store.latest_change().await.unwrap() > start);
    // Pruning keeps the newest position.
    let latest = store.latest_change().await.unwrap();
    store
        .prune(now() + Duration::hours(3), Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(store.latest_change().await.unwrap(), latest);
}

pub async fn expired_keys_are_disabled_and_audited(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let mut expiring = new_key("alice", "production", None);
    expiring.expires_at = Some(now() + Duration::minutes(5));
    let expiring = store.create_key(&expiring, &ctx()).await.unwrap();
    let lasting = create(&store, "alice", "production").await;
    assert!(store.expire_keys(now()).await.unwrap().is_empty());
    let expired = store
        .expire_keys(now() + Duration::minutes(6))
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].client_id, expiring.client_id);
    assert_eq!(expired[0].disabled_reason, Some(DisabledReason::Expired));
    assert!(store.get_key(&lasting.client_id).await.unwrap().enabled);
    let actions = audit_actions(
        &store,
        AuditQuery {
            client_id: Some(expiring.client_id.to_string()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(actions, ["key.created", "key.expired"]);
    assert!(
        store
            .expire_keys(now() + Duration::minutes(7))
            .await
            .unwrap()
            .is_empty(),
        "expires once"
    );
}

/// Newest first, with a cursor and the total of the filtered entries (the CLI's `audit
/// --limit` and GraphQL's `totalCount`).
pub async fn audit_reads_newest_first_and_counts(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    store
        .update_key(
            &key.client_id,
            &update(KeyChange::Disable(DisabledReason::Manual), None),
            &ctx(),
        )
        .await
        .unwrap();
    store
        .update_key(&key.client_id, &update(KeyChange::Enable, None), &ctx())
        .await
        .unwrap();
    let newest = AuditQuery {
        client_id: Some(key.client_id.to_string()),
        limit: 2,
        newest_first: true,
        ..Default::default()
    };
    let (page, more) = store.list_audit(&newest).await.unwrap();
    let actions: Vec<&str> = page.iter().map(|e| e.action.as_str()).collect();
    assert_eq!((actions, more), (vec!["key.enabled", "key.disabled"], true));
    let rest = AuditQuery {
        after: page.last().map(|e| e.seq),
        ..newest.clone()
    };
    let (page, more) = store.list_audit(&rest).await.unwrap();
    let actions: Vec<&str> = page.iter().map(|e| e.action.as_str()).collect();
    assert_eq!((actions, more), (vec!["key.created"], false));
    assert_eq!(store.count_audit(&newest).await.unwrap(), 3);
}

pub async fn a_revocation_is_audited_once_with_its_target_and_operator(store: Arc<dyn Store>) {
    let jti = "AAAAAAAAAAAAAAAAAAAAAA";
    let token = TokenRevocation {
        jti: jti.into(),
        environment: env("production"),
        client_id: None,
        user_id: Some(UserId::parse("alice").unwrap()),
        expires_at: now() + Duration::minutes(10),
    };
    let by_carol = WriteContext {
        actor: Actor::cli("carol@ops-1".into()),
        ..ctx()
    };
    assert!(store.revoke_token(&token, &by_carol).await.unwrap(), "new");
    assert!(
        !store.revoke_token(&token, &by_carol).await.unwrap(),
        "again"
    );
    assert!(store.is_revoked(jti).await.unwrap());
    let query = AuditQuery {
        environment: Some("production".into()),
        limit: 10,
        ..Default::default()
    };
    let (entries, _) = store.list_audit(&query).await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry.action, "token.revoked");
    assert_eq!(entry.target.as_deref(), Some(jti));
    assert_eq!(entry.user_id.as_deref(), Some("alice"));
    assert_eq!(entry.operator.as_deref(), Some("carol@ops-1"));
    assert_eq!(entry.source, "cli");
}

/// Each instance records the public URL it serves; the URLs recorded within a window are
/// listed once each, and one not refreshed within the window drops out.
pub async fn instances_see_the_other_public_urls_served_on_the_database(store: Arc<dyn Store>) {
    let t0 = time::macros::datetime!(2026-12-06 12:00 UTC);
    let window = Duration::minutes(2);
    let (a, b) = ("https://keymint.example.com", "http://127.0.0.1:8080");
    store.record_public_url(a, t0).await.unwrap();
    store.record_public_url(a, t0).await.unwrap();
    assert_eq!(store.public_urls(t0 - window).await.unwrap(), vec![a]);
    store
        .record_public_url(b, t0 + Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(store.public_urls(t0 - window).await.unwrap(), vec![b, a]);
    // B stopped: three minutes later only A has refreshed.
    let later = t0 + Duration::minutes(3);
    store.record_public_url(a, later).await.unwrap();
    assert_eq!(store.public_urls(later - window).await.unwrap(), vec![a]);
}

/// `key.expiring` once per key and expiry: a second scan (another instance, or after a
/// restart: the mark is in the database) writes nothing; a key created inside the period
/// is found; a moved expiry is announced again; an expired key is not.
pub async fn expiry_warnings_are_written_once_per_expiry(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let week = Duration::days(7);
    let mut soon = new_key("alice", "production", None);
    soon.expires_at = Some(now() + Duration::days(3));
    let soon = store.create_key(&soon, &ctx()).await.unwrap();
    let mut later = new_key("alice", "production", None);
    later.expires_at = Some(now() + Duration::days(30));
    let later = store.create_key(&later, &ctx()).await.unwrap();
    let warned = store.warn_expiring(now(), now() + week).await.unwrap();
    assert_eq!(warned.len(), 1);
    assert_eq!(warned[0].client_id, soon.client_id);
    assert!(
        store
            .warn_expiring(now(), now() + week)
            .await
            .unwrap()
            .is_empty()
    );
    let outbox = store.list_events(false, 100).await.unwrap();
    let kinds: Vec<&str> = outbox
        .iter()
        .filter(|e| e.subject == soon.client_id.as_str())
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(kinds, ["key.created", "key.expiring"]);
    // The expiry moves: the new one is announced when it comes near.
    let moved = KeyUpdate {
        edit: KeyEdit {
            expires_at: Some(Some(now() + Duration::days(5))),
            ..KeyEdit::default()
        },
        ..KeyUpdate::default()
    };
    store
        .update_key(&soon.client_id, &moved, &ctx())
        .await
        .unwrap();
    assert_eq!(
        store
            .warn_expiring(now(), now() + week)
            .await
            .unwrap()
            .len(),
        1
    );
    // 25 days on, the other key's turn; none once past expiry.
    let on = now() + Duration::days(25);
    let warned = store.warn_expiring(on, on + week).await.unwrap();
    assert_eq!(warned.len(), 1);
    assert_eq!(warned[0].client_id, later.client_id);
    let past = now() + Duration::days(40);
    assert!(
        store
            .warn_expiring(past, past + week)
            .await
            .unwrap()
            .is_empty()
    );
}

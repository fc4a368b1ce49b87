//! Keys: frozen and narrowed permissions, etags, activation, deletion, listing.

use std::sync::Arc;
use time::Duration;

use keymint::domain::{AllowedIps, ChangeSource, DisabledReason, KeyEdit};
use keymint::store::{AuditQuery, KeyQuery, KeyUpdate, Store, StoreError};

use crate::fixtures::*;

pub async fn keys_freeze_the_owners_permissions(store: Arc<dyn Store>) {
    user(&store, "alice", &["runs:read", "runs:write"]).await;
    let old = create(&store, "alice", "production").await;
    assert_eq!(old.permissions, perms(&["runs:read", "runs:write"]));
    assert!(old.enabled);

    user(&store, "alice", &["runs:read", "admin"]).await;
    assert_eq!(
        store.get_key(&old.client_id).await.unwrap().permissions,
        perms(&["runs:read", "runs:write"])
    );
    let new = create(&store, "alice", "production").await;
    assert_eq!(new.permissions, perms(&["admin", "runs:read"]));
    assert_eq!(
        store.get_key(&old.client_id).await.unwrap(),
        old,
        "creating a key must not touch older keys"
    );
}

pub async fn keys_narrow_to_held_permissions_only(store: Arc<dyn Store>) {
    user(&store, "alice", &["runs:read", "runs:write"]).await;
    let narrow = store
        .create_key(
            &new_key("alice", "production", Some(&["runs:read"])),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(narrow.permissions, perms(&["runs:read"]));
    match store
        .create_key(
            &new_key("alice", "production", Some(&["runs:read", "admin"])),
            &ctx(),
        )
        .await
    {
        Err(StoreError::NotHeld(missing)) => assert_eq!(missing, ["admin"]),
        other => panic!("expected NotHeld, got {other:?}"),
    }
}

pub async fn inactive_owners_cannot_get_keys(store: Arc<dyn Store>) {
    user(&store, "bob", &["x"]).await;
    deactivate(&store, "bob").await.unwrap();
    assert!(matches!(
        store
            .create_key(&new_key("bob", "production", None), &ctx())
            .await,
        Err(StoreError::OwnerInactive)
    ));
}

pub async fn every_update_changes_the_etag(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    let mut seen = vec![key.etag.clone()];
    let later = now() + Duration::seconds(5);
    for change in [
        KeyChange::Disable(DisabledReason::Manual),
        KeyChange::Enable,
        KeyChange::ReplaceSecret("$argon2id$new".into()),
    ] {
        let updated = store
            .update_key(
                &key.client_id,
                &update(change, None),
                &ctx_as(ChangeSource::Cli, later),
            )
            .await
            .unwrap();
        assert!(!seen.contains(&updated.etag), "etag did not change");
        assert_eq!(updated.updated_at, later);
        seen.push(updated.etag);
    }
    let creds = store
        .find_credentials(&key.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.secret.hash, "$argon2id$new");
    assert!(
        creds.key.enabled,
        "replacing the secret keeps the enabled state"
    );
}

pub async fn stale_etags_conflict_and_change_nothing(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    let disabled = store
        .update_key(
            &key.client_id,
            &update(KeyChange::Disable(DisabledReason::Manual), Some(&key.etag)),
            &ctx(),
        )
        .await
        .unwrap();
    let stale = store
        .update_key(
            &key.client_id,
            &update(KeyChange::Enable, Some(&key.etag)),
            &ctx(),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)));
    assert!(matches!(
        store
            .delete_key(&key.client_id, Some(&key.etag), &ctx())
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.get_key(&key.client_id).await.unwrap(), disabled);
    let client = Some(key.client_id.to_string());
    assert_eq!(
        audit_actions(
            &store,
            AuditQuery {
                client_id: client,
                ..Default::default()
            }
        )
        .await,
        ["key.created", "key.disabled"]
    );
}

pub async fn concurrent_updates_with_one_etag_have_one_winner(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    let attempts = (0..8).map(|i| {
        let store = Arc::clone(&store);
        let key = key.clone();
        tokio::spawn(async move {
            let change = KeyChange::ReplaceSecret(format!("$argon2id$hash{i}"));
            store
                .update_key(&key.client_id, &update(change, Some(&key.etag)), &ctx())
                .await
        })
    });
    let mut wins = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => wins += 1,
            Err(StoreError::Conflict) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(wins, 1);
}

pub async fn enabling_requires_an_active_owner(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    deactivate(&store, "alice").await.unwrap();
    assert!(matches!(
        store
            .update_key(&key.client_id, &update(KeyChange::Enable, None), &ctx())
            .await,
        Err(StoreError::OwnerInactive)
    ));
    reactivate(&store, "alice").await.unwrap();
    let enabled = store
        .update_key(&key.client_id, &update(KeyChange::Enable, None), &ctx())
        .await
        .unwrap();
    assert!(enabled.enabled);
    assert_eq!(enabled.disabled_reason, None);
}

pub async fn delete_removes_the_key(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    let deleted = store
        .delete_key(&key.client_id, Some(&key.etag), &ctx())
        .await
        .unwrap();
    assert_eq!(deleted.client_id, key.client_id);
    assert!(matches!(
        store.get_key(&key.client_id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .find_credentials(&key.client_id)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn listing_pages_in_creation_order_with_owner_filter(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    user(&store, "bob", &["x"]).await;
    let mut alices = Vec::new();
    for i in 0..5 {
        alices.push(create(&store, "alice", "production").await.client_id);
        if i % 2 == 0 {
            create(&store, "bob", "production").await;
        }
    }
    create(&store, "alice", "sandbox").await;

    let query = |after| KeyQuery {
        environment: env("production"),
        owner: Some(uid("alice")),
        after,
        limit: 2,
    };
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_keys(&query(after)).await.unwrap();
        assert_eq!(page.total_count, 5);
        assert!(page.entries.len() <= 2);
        seen.extend(page.entries.iter().map(|(_, k)| k.client_id.clone()));
        after = page.entries.last().map(|(c, _)| *c);
        if !page.has_next_page {
            break;
        }
    }
    assert_eq!(seen, alices);
    let all = store
        .list_keys(&KeyQuery {
            environment: env("production"),
            owner: None,
            after: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(all.total_count, 8);
    assert_eq!(all.entries.len(), 8);
    assert!(!all.has_next_page);
}

pub async fn names_and_expiries_change_in_one_audited_update(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    let later = now() + Duration::days(7);
    let edit = KeyUpdate {
        edit: KeyEdit {
            name: Some(Some("nightly".into())),
            expires_at: Some(Some(later)),
            client_keys: None,
            allowed_ips: None,
        },
        expected_etag: Some(key.etag.clone()),
        ..KeyUpdate::default()
    };
    let updated = store
        .update_key(&key.client_id, &edit, &ctx())
        .await
        .unwrap();
    assert_eq!(updated.name.as_deref(), Some("nightly"));
    assert_eq!(updated.expires_at, Some(later));
    assert_ne!(updated.etag, key.etag);
    let read = store.get_key(&key.client_id).await.unwrap();
    assert_eq!((read.name, read.expires_at), (updated.name, Some(later)));
    let query = AuditQuery {
        client_id: Some(key.client_id.to_string()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        audit_actions(&store, query).await,
        ["key.created", "key.renamed", "key.expiry_changed"]
    );

    // Past its expiry, the expiry stays; nothing else of the update is applied either.
    let expired = ctx_as(ChangeSource::Cli, later + Duration::seconds(1));
    let extend = KeyUpdate {
        edit: KeyEdit {
            name: Some(None),
            expires_at: Some(None),
            client_keys: None,
            allowed_ips: None,
        },
        ..KeyUpdate::default()
    };
    let refused = store.update_key(&key.client_id, &extend, &expired).await;
    assert!(matches!(refused, Err(StoreError::Expired)), "{refused:?}");
    let read = store.get_key(&key.client_id).await.unwrap();
    assert_eq!(
        (read.name.as_deref(), read.expires_at),
        (Some("nightly"), Some(later))
    );
}

/// An allow-list is stored with the key, replaced or removed by an audited update, and a
/// key without one allows any address.
pub async fn allow_lists_are_stored_replaced_and_audited(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let mut new = new_key("alice", "production", None);
    new.allowed_ips = AllowedIps::parse(&["203.0.113.0/24", "2001:db8:1::/64"]).unwrap();
    let key = store.create_key(&new, &ctx()).await.unwrap();
    let read = store.get_key(&key.client_id).await.unwrap();
    assert_eq!(
        read.allowed_ips.to_strings(),
        ["203.0.113.0/24", "2001:db8:1::/64"]
    );
    assert!(
        create(&store, "alice", "production")
            .await
            .allowed_ips
            .is_any()
    );
    let set = |list: AllowedIps| KeyUpdate {
        edit: KeyEdit {
            allowed_ips: Some(list),
            ..KeyEdit::default()
        },
        ..KeyUpdate::default()
    };
    let office = AllowedIps::parse(&["198.51.100.7"]).unwrap();
    let updated = store
        .update_key(&key.client_id, &set(office.clone()), &ctx())
        .await
        .unwrap();
    assert_eq!(updated.allowed_ips, office);
    assert_ne!(updated.etag, key.etag);
    let any = store
        .update_key(&key.client_id, &set(AllowedIps::any()), &ctx())
        .await
        .unwrap();
    assert!(
        store
            .get_key(&any.client_id)
            .await
            .unwrap()
            .allowed_ips
            .is_any()
    );
    let query = AuditQuery {
        client_id: Some(key.client_id.to_string()),
        limit: 10,
        newest_first: true,
        ..Default::default()
    };
    let reasons: Vec<Option<String>> = store
        .list_audit(&query)
        .await
        .unwrap()
        .0
        .into_iter()
        .filter(|e| e.action == "key.allowed_ips_changed")
        .map(|e| e.reason)
        .collect();
    assert_eq!(
        reasons,
        [Some("any".to_owned()), Some("198.51.100.7/32".to_owned())],
        "newest first"
    );
}

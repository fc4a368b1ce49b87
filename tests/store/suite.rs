//! Backend-agnostic store behaviour. Each function gets a fresh, migrated store.

use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use keymint::domain::{ClientId, DisabledReason, EnvironmentName, Permissions, UserId, UserUpsert};
use keymint::store::{KeyChange, KeyQuery, KeyUpdate, NewApiKey, Store, StoreError};

fn now() -> OffsetDateTime {
    // Whole seconds, so values read back compare equal on every backend.
    OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).unwrap()
}

fn env(name: &str) -> EnvironmentName {
    EnvironmentName::parse(name).unwrap()
}

fn perms(items: &[&str]) -> Permissions {
    Permissions::parse(items).unwrap()
}

fn uid(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

async fn user(store: &Arc<dyn Store>, id: &str, permissions: &[&str]) {
    let upsert = UserUpsert {
        id: uid(id),
        email: None,
        service_account: false,
        permissions: perms(permissions),
    };
    store.upsert_user(&upsert, now()).await.unwrap();
}

fn new_key(owner: &str, environment: &str, requested: Option<&[&str]>) -> NewApiKey {
    let token = keymint::secrets::random_token(12);
    NewApiKey {
        id: format!("key_{token}"),
        client_id: ClientId::new(format!("kmc_{token}")),
        secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        environment: env(environment),
        owner_id: uid(owner),
        requested: requested.map(perms),
        name: Some(format!("key of {owner}")),
        expires_at: None,
        etag: keymint::secrets::random_token(12),
    }
}

fn update(change: KeyChange, expected: Option<&str>) -> KeyUpdate {
    KeyUpdate {
        change,
        expected_etag: expected.map(str::to_owned),
        new_etag: keymint::secrets::random_token(12),
    }
}

pub async fn upsert_creates_active_users_and_updates_profiles(store: Arc<dyn Store>) {
    let created = store
        .upsert_user(
            &UserUpsert {
                id: uid("alice"),
                email: Some("a@example.com".into()),
                service_account: false,
                permissions: perms(&["runs:read"]),
            },
            now(),
        )
        .await
        .unwrap();
    assert!(created.active);
    assert_eq!(created.email.as_deref(), Some("a@example.com"));

    store
        .set_user_active(&uid("alice"), false, "e", now())
        .await
        .unwrap();
    let updated = store
        .upsert_user(
            &UserUpsert {
                id: uid("alice"),
                email: None,
                service_account: true,
                permissions: perms(&["runs:write"]),
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(updated.permissions, perms(&["runs:write"]));
    assert!(updated.service_account);
    assert_eq!(updated.email, None);
    assert!(
        !updated.active,
        "an upsert must not reactivate a deactivated user"
    );
    assert_eq!(store.get_user(&uid("alice")).await.unwrap(), updated);
}

pub async fn unknown_users_and_keys_are_not_found(store: Arc<dyn Store>) {
    let missing = ClientId::new("kmc_missing".into());
    assert!(matches!(
        store.get_user(&uid("nobody")).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.get_key(&missing).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.find_credentials(&missing).await.unwrap().is_none());
    assert!(matches!(
        store
            .create_key(&new_key("nobody", "production", None), now())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .set_user_active(&uid("nobody"), false, "e", now())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .update_key(&missing, &update(KeyChange::Enable, None), now())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_key(&missing, None).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn keys_freeze_the_owners_permissions(store: Arc<dyn Store>) {
    user(&store, "alice", &["runs:read", "runs:write"]).await;
    let old = store
        .create_key(&new_key("alice", "production", None), now())
        .await
        .unwrap();
    assert_eq!(old.permissions, perms(&["runs:read", "runs:write"]));
    assert!(old.enabled);

    user(&store, "alice", &["runs:read", "admin"]).await;
    assert_eq!(
        store.get_key(&old.client_id).await.unwrap().permissions,
        perms(&["runs:read", "runs:write"])
    );
    let new = store
        .create_key(&new_key("alice", "production", None), now())
        .await
        .unwrap();
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
        .create_key(&new_key("alice", "production", Some(&["runs:read"])), now())
        .await
        .unwrap();
    assert_eq!(narrow.permissions, perms(&["runs:read"]));
    match store
        .create_key(
            &new_key("alice", "production", Some(&["runs:read", "admin"])),
            now(),
        )
        .await
    {
        Err(StoreError::NotHeld(missing)) => assert_eq!(missing, ["admin"]),
        other => panic!("expected NotHeld, got {other:?}"),
    }
}

pub async fn inactive_owners_cannot_get_keys(store: Arc<dyn Store>) {
    user(&store, "bob", &["x"]).await;
    store
        .set_user_active(&uid("bob"), false, "e", now())
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_key(&new_key("bob", "production", None), now())
            .await,
        Err(StoreError::OwnerInactive)
    ));
}

pub async fn every_update_changes_the_etag(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = store
        .create_key(&new_key("alice", "production", None), now())
        .await
        .unwrap();
    let mut seen = vec![key.etag.clone()];
    let later = now() + Duration::seconds(5);
    for change in [
        KeyChange::Disable(DisabledReason::Manual),
        KeyChange::Enable,
        KeyChange::ReplaceSecret("$argon2id$new".into()),
    ] {
        let updated = store
            .update_key(&key.client_id, &update(change, None), later)
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
    assert_eq!(creds.secret_hash, "$argon2id$new");
    assert!(
        creds.key.enabled,
        "replacing the secret keeps the enabled state"
    );
}

pub async fn stale_etags_conflict_and_change_nothing(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = store
        .create_key(&new_key("alice", "production", None), now())
        .await
        .unwrap();
    let disabled = store
        .update_key(
            &key.client_id,
            &update(KeyChange::Disable(DisabledReason::Manual), Some(&key.etag)),
            now(),
        )
        .await
        .unwrap();
    let stale = store
        .update_key(
            &key.client_id,
            &update(KeyChange::Enable, Some(&key.etag)),
            now(),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)));
    assert!(matches!(
        store.delete_key(&key.client_id, Some(&key.etag)).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.get_key(&key.client_id).await.unwrap(), disabled);
}

pub async fn concurrent_updates_with_one_etag_have_one_winner(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = store
        .create_key(&new_key("alice", "production", None), now())
        .await
        .unwrap();
    let attempts = (0..8).map(|i| {
        let store = Arc::clone(&store);
        let key = key.clone();
        tokio::spawn(async move {
            let change = KeyChange::ReplaceSecret(format!("$argon2id$hash{i}"));
            store
                .update_key(&key.client_id, &update(change, Some(&key.etag)), now())
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
    let key = store
        .create_key(&new_key("alice", "production", None), now())
        .await
        .unwrap();
    store
        .set_user_active(&uid("alice"), false, "e", now())
        .await
        .unwrap();
    assert!(matches!(
        store
            .update_key(&key.client_id, &update(KeyChange::Enable, None), now())
            .await,
        Err(StoreError::OwnerInactive)
    ));
    store
        .set_user_active(&uid("alice"), true, "e2", now())
        .await
        .unwrap();
    let enabled = store
        .update_key(&key.client_id, &update(KeyChange::Enable, None), now())
        .await
        .unwrap();
    assert!(enabled.enabled);
    assert_eq!(enabled.disabled_reason, None);
}

pub async fn delete_removes_the_key(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = store
        .create_key(&new_key("alice", "production", None), now())
        .await
        .unwrap();
    let deleted = store
        .delete_key(&key.client_id, Some(&key.etag))
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

pub async fn deactivation_disables_all_keys_in_every_environment(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    user(&store, "bob", &["x"]).await;
    let prod = store
        .create_key(&new_key("alice", "production", None), now())
        .await
        .unwrap();
    let sandbox = store
        .create_key(&new_key("alice", "sandbox", None), now())
        .await
        .unwrap();
    let manual = store
        .create_key(&new_key("alice", "sandbox", None), now())
        .await
        .unwrap();
    store
        .update_key(
            &manual.client_id,
            &update(KeyChange::Disable(DisabledReason::Manual), None),
            now(),
        )
        .await
        .unwrap();
    let bobs = store
        .create_key(&new_key("bob", "production", None), now())
        .await
        .unwrap();

    let result = store
        .set_user_active(&uid("alice"), false, "etag-d", now())
        .await
        .unwrap();
    assert!(!result.user.active);
    let mut disabled: Vec<_> = result
        .disabled_keys
        .iter()
        .map(|k| k.client_id.clone())
        .collect();
    disabled.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let mut expected = vec![prod.client_id.clone(), sandbox.client_id.clone()];
    expected.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(disabled, expected);
    for id in [&prod.client_id, &sandbox.client_id] {
        let key = store.get_key(id).await.unwrap();
        assert!(!key.enabled);
        assert_eq!(key.disabled_reason, Some(DisabledReason::OwnerDeactivated));
    }
    assert_eq!(
        store
            .get_key(&manual.client_id)
            .await
            .unwrap()
            .disabled_reason,
        Some(DisabledReason::Manual)
    );
    assert!(
        store.get_key(&bobs.client_id).await.unwrap().enabled,
        "other users' keys are untouched"
    );

    let reactivated = store
        .set_user_active(&uid("alice"), true, "etag-r", now())
        .await
        .unwrap();
    assert!(reactivated.user.active && reactivated.disabled_keys.is_empty());
    assert!(
        !store.get_key(&prod.client_id).await.unwrap().enabled,
        "reactivation enables nothing"
    );
}

pub async fn deactivation_and_key_creation_never_leave_an_enabled_key_for_an_inactive_user(
    store: Arc<dyn Store>,
) {
    for round in 0..10 {
        let owner = format!("racer{round}");
        user(&store, &owner, &["x"]).await;
        let creators: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                let key = new_key(&owner, "production", None);
                tokio::spawn(async move { store.create_key(&key, now()).await })
            })
            .collect();
        store
            .set_user_active(&uid(&owner), false, "etag", now())
            .await
            .unwrap();
        for creator in creators {
            match creator.await.unwrap() {
                Ok(_) | Err(StoreError::OwnerInactive) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        let page = store
            .list_keys(&KeyQuery {
                environment: env("production"),
                owner: Some(uid(&owner)),
                after: None,
                limit: 100,
            })
            .await
            .unwrap();
        assert!(
            page.entries.iter().all(|(_, k)| !k.enabled),
            "an inactive user kept an enabled key"
        );
    }
}

pub async fn listing_pages_in_creation_order_with_owner_filter(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    user(&store, "bob", &["x"]).await;
    let mut alices = Vec::new();
    for i in 0..5 {
        alices.push(
            store
                .create_key(&new_key("alice", "production", None), now())
                .await
                .unwrap()
                .client_id,
        );
        if i % 2 == 0 {
            store
                .create_key(&new_key("bob", "production", None), now())
                .await
                .unwrap();
        }
    }
    store
        .create_key(&new_key("alice", "sandbox", None), now())
        .await
        .unwrap();

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

pub async fn credentials_carry_hash_and_owner_state(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = store
        .create_key(&new_key("alice", "production", None), now())
        .await
        .unwrap();
    let creds = store
        .find_credentials(&key.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.key, key);
    assert!(creds.owner_active);
    assert!(creds.secret_hash.starts_with("$argon2id$"));
    assert!(
        !format!("{creds:?}").contains("argon2id"),
        "Debug must redact the hash"
    );
    store
        .set_user_active(&uid("alice"), false, "e", now())
        .await
        .unwrap();
    assert!(
        !store
            .find_credentials(&key.client_id)
            .await
            .unwrap()
            .unwrap()
            .owner_active
    );
}

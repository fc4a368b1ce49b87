//! Backend-agnostic store behaviour. Each function gets a fresh, migrated store.

use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use keymint::domain::{
    Actor, ChangeSource, ClientId, DisabledReason, EnvironmentName, Permissions, StoredSecret,
    User, UserEvent, UserId, UserUpsert,
};
use keymint::store::{
    Activation, AuditQuery, Dedupe, EventOutcome, KeyQuery, KeyUpdate, NewApiKey, NewSecret, Store,
    StoreError, UserActivation, WriteContext,
};

fn now() -> OffsetDateTime {
    // Whole seconds, so values read back compare equal on every backend.
    OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).unwrap()
}

fn ctx_as(source: ChangeSource, at: OffsetDateTime) -> WriteContext {
    WriteContext {
        now: at,
        actor: Actor::system(source),
        request_id: Some("req-1".into()),
    }
}

/// A stored secret with a check tag derived from its (fake) hash.
fn stored(hash: &str) -> StoredSecret {
    StoredSecret {
        hash: hash.into(),
        check: Some(format!("tag-of-{hash}")),
    }
}

fn ctx() -> WriteContext {
    ctx_as(ChangeSource::Cli, now())
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

async fn apply(store: &Arc<dyn Store>, event: UserEvent) -> Result<UserActivation, StoreError> {
    match store
        .apply_user_event(&event, &Dedupe::None, None, &ctx())
        .await?
    {
        EventOutcome::Applied(result) => Ok(result),
        other => panic!("no de-duplication id and no event time, yet {other:?}"),
    }
}

async fn upsert(
    store: &Arc<dyn Store>,
    id: &str,
    email: Option<&str>,
    service_account: bool,
    permissions: &[&str],
) -> User {
    let upsert = UserUpsert {
        id: uid(id),
        email: email.map(str::to_owned),
        service_account,
        permissions: perms(permissions),
    };
    apply(store, UserEvent::Upserted(upsert))
        .await
        .unwrap()
        .user
}

async fn user(store: &Arc<dyn Store>, id: &str, permissions: &[&str]) {
    upsert(store, id, None, false, permissions).await;
}

async fn deactivate(store: &Arc<dyn Store>, id: &str) -> Result<UserActivation, StoreError> {
    apply(store, UserEvent::Deactivated(uid(id))).await
}

async fn reactivate(store: &Arc<dyn Store>, id: &str) -> Result<UserActivation, StoreError> {
    apply(store, UserEvent::Reactivated(uid(id))).await
}

fn new_key(owner: &str, environment: &str, requested: Option<&[&str]>) -> NewApiKey {
    let token = keymint::secrets::random_token(12);
    NewApiKey {
        id: format!("key_{token}"),
        client_id: ClientId::new(format!("kmc_{token}")),
        secret: stored("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
        environment: env(environment),
        owner_id: uid(owner),
        requested: requested.map(perms),
        name: Some(format!("key of {owner}")),
        expires_at: None,
    }
}

async fn create(store: &Arc<dyn Store>, owner: &str, environment: &str) -> keymint::domain::ApiKey {
    store
        .create_key(&new_key(owner, environment, None), &ctx())
        .await
        .unwrap()
}

/// One kind of change, for tests that apply them one at a time.
enum KeyChange {
    Enable,
    Disable(DisabledReason),
    ReplaceSecret(String),
}

fn update(change: KeyChange, expected: Option<&str>) -> KeyUpdate {
    let expected_etag = expected.map(str::to_owned);
    match change {
        KeyChange::Enable => KeyUpdate {
            activation: Some(Activation::Enable),
            secret: None,
            expected_etag,
        },
        KeyChange::Disable(reason) => KeyUpdate {
            activation: Some(Activation::Disable(reason)),
            secret: None,
            expected_etag,
        },
        KeyChange::ReplaceSecret(hash) => KeyUpdate {
            activation: None,
            secret: Some(NewSecret {
                secret: stored(&hash),
                grace_until: None,
            }),
            expected_etag,
        },
    }
}

async fn audit_actions(store: &Arc<dyn Store>, query: AuditQuery) -> Vec<String> {
    let (events, _) = store
        .list_audit(&AuditQuery {
            limit: 100,
            ..query
        })
        .await
        .unwrap();
    events.into_iter().map(|e| e.action).collect()
}

pub async fn upsert_creates_active_users_and_updates_profiles(store: Arc<dyn Store>) {
    let created = upsert(
        &store,
        "alice",
        Some("a@example.com"),
        false,
        &["runs:read"],
    )
    .await;
    assert!(created.active);
    assert_eq!(created.email.as_deref(), Some("a@example.com"));

    deactivate(&store, "alice").await.unwrap();
    let updated = upsert(&store, "alice", None, true, &["runs:write"]).await;
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
            .create_key(&new_key("nobody", "production", None), &ctx())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(
        matches!(
            deactivate(&store, "nobody").await,
            Err(StoreError::NotFound)
        ),
        "the CLI must not create users by typo"
    );
    assert!(matches!(
        store
            .update_key(&missing, &update(KeyChange::Enable, None), &ctx())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_key(&missing, None, &ctx()).await,
        Err(StoreError::NotFound)
    ));
}

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

pub async fn deactivation_disables_all_keys_in_every_environment(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    user(&store, "bob", &["x"]).await;
    let prod = create(&store, "alice", "production").await;
    let sandbox = create(&store, "alice", "sandbox").await;
    let manual = create(&store, "alice", "sandbox").await;
    store
        .update_key(
            &manual.client_id,
            &update(KeyChange::Disable(DisabledReason::Manual), None),
            &ctx(),
        )
        .await
        .unwrap();
    let bobs = create(&store, "bob", "production").await;

    let result = deactivate(&store, "alice").await.unwrap();
    assert!(!result.user.active);
    let mut disabled: Vec<String> = result
        .disabled_keys
        .iter()
        .map(|k| k.client_id.to_string())
        .collect();
    disabled.sort();
    let mut expected = vec![prod.client_id.to_string(), sandbox.client_id.to_string()];
    expected.sort();
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

    // One audit entry per disabled key, plus the deactivation itself.
    let (entries, _) = store
        .list_audit(&AuditQuery {
            user_id: Some("alice".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let deactivation: Vec<_> = entries
        .iter()
        .filter(|e| e.reason.as_deref() == Some("owner_deactivated"))
        .collect();
    assert_eq!(deactivation.len(), 2);
    assert!(deactivation.iter().all(|e| e.action == "key.disabled"
        && e.source == "cli"
        && e.request_id.as_deref() == Some("req-1")));
    assert_eq!(entries.last().unwrap().action, "user.deactivated");

    let reactivated = reactivate(&store, "alice").await.unwrap();
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
                tokio::spawn(async move { store.create_key(&key, &ctx()).await })
            })
            .collect();
        deactivate(&store, &owner).await.unwrap();
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

pub async fn webhook_ids_apply_once(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    create(&store, "alice", "production").await;
    let event = UserEvent::Deactivated(uid("alice"));
    let dedupe = Dedupe::WebhookId("msg_1".into());
    let webhook = ctx_as(ChangeSource::Webhook, now());
    assert!(matches!(
        store
            .apply_user_event(&event, &dedupe, Some(now()), &webhook)
            .await
            .unwrap(),
        EventOutcome::Applied(_)
    ));
    assert!(matches!(
        store
            .apply_user_event(&event, &dedupe, Some(now()), &webhook)
            .await
            .unwrap(),
        EventOutcome::Duplicate
    ));
    let actions = audit_actions(
        &store,
        AuditQuery {
            user_id: Some("alice".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        actions.iter().filter(|a| *a == "user.deactivated").count(),
        1,
        "{actions:?}"
    );
}

pub async fn directory_events_about_unknown_users_are_remembered(store: Arc<dyn Store>) {
    let directory = ctx_as(ChangeSource::Webhook, now());
    let event = UserEvent::Deactivated(uid("carol"));
    store
        .apply_user_event(&event, &Dedupe::None, Some(now()), &directory)
        .await
        .unwrap();
    assert!(!store.get_user(&uid("carol")).await.unwrap().active);
    // A later upsert keeps the user inactive, so no key can be made for them.
    upsert(&store, "carol", None, false, &["x"]).await;
    assert!(matches!(
        store
            .create_key(&new_key("carol", "production", None), &ctx())
            .await,
        Err(StoreError::OwnerInactive)
    ));
}

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
    store.prune(now() + Duration::hours(2)).await.unwrap();
    assert_eq!(store.latest_change().await.unwrap(), latest);
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
        }),
        expected_etag: Some(key.etag.clone()),
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

pub async fn last_use_is_recorded_without_changing_the_key(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    let feed_before = store.latest_change().await.unwrap();
    let used = now() + Duration::minutes(3);
    store
        .record_last_used(&[(key.client_id.clone(), used)])
        .await
        .unwrap();
    store
        .record_last_used(&[(key.client_id.clone(), used - Duration::minutes(2))])
        .await
        .unwrap();
    let read = store.get_key(&key.client_id).await.unwrap();
    assert_eq!(
        read.last_used_at,
        Some(used),
        "an older time must not overwrite a newer one"
    );
    assert_eq!(read.etag, key.etag, "last use is not a change of the key");
    assert_eq!(store.latest_change().await.unwrap(), feed_before);
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

/// Directory events of one user take effect in the order the directory emitted them: a
/// delayed reactivation older than the deactivation already applied changes nothing.
pub async fn directory_events_of_a_user_apply_in_emission_order(store: Arc<dyn Store>) {
    user(&store, "alice", &["x"]).await;
    let key = create(&store, "alice", "production").await;
    let directory = ctx_as(ChangeSource::Webhook, now());
    let at = now();
    let send = |event: UserEvent, when: OffsetDateTime| {
        let (store, directory) = (&store, &directory);
        async move {
            store
                .apply_user_event(&event, &Dedupe::None, Some(when), directory)
                .await
                .unwrap()
        }
    };
    let deactivated = send(UserEvent::Deactivated(uid("alice")), at).await;
    assert!(matches!(deactivated, EventOutcome::Applied(_)));
    let feed = store.latest_change().await.unwrap();
    let late = send(
        UserEvent::Reactivated(uid("alice")),
        at - Duration::seconds(60),
    )
    .await;
    assert!(matches!(late, EventOutcome::Stale), "{late:?}");
    assert!(!store.get_user(&uid("alice")).await.unwrap().active);
    assert_eq!(
        store.latest_change().await.unwrap(),
        feed,
        "a stale event changes nothing"
    );
    // An older upsert cannot bring back older permissions either.
    let upsert = UserEvent::Upserted(UserUpsert {
        id: uid("alice"),
        email: None,
        service_account: false,
        permissions: perms(&["old"]),
    });
    assert!(matches!(
        send(upsert, at - Duration::seconds(1)).await,
        EventOutcome::Stale
    ));
    // A later reactivation applies; the key stays disabled, as after any reactivation.
    let later = send(
        UserEvent::Reactivated(uid("alice")),
        at + Duration::seconds(1),
    )
    .await;
    assert!(matches!(later, EventOutcome::Applied(_)));
    assert!(store.get_user(&uid("alice")).await.unwrap().active);
    assert!(!store.get_key(&key.client_id).await.unwrap().enabled);
    // Direct (CLI) changes carry no event time and always apply.
    assert!(
        apply(&store, UserEvent::Deactivated(uid("alice")))
            .await
            .is_ok()
    );
}

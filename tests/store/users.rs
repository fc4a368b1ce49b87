//! Users and directory events: upserts, deactivation of every key, webhook ids, event order.

use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use keymint::domain::{ChangeSource, ClientId, DisabledReason, UserEvent, UserUpsert};
use keymint::store::{AuditQuery, Dedupe, EventOutcome, KeyQuery, Store, StoreError};

use crate::fixtures::*;

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

pub async fn users_are_listed_in_id_order_with_their_key_counts(store: Arc<dyn Store>) {
    use keymint::store::UserQuery;
    user(&store, "carol", &["x"]).await;
    user(&store, "alice", &["x", "y"]).await;
    user(&store, "bob", &[]).await;
    let first = create(&store, "alice", "production").await;
    create(&store, "alice", "sandbox").await;
    deactivate(&store, "carol").await.unwrap();
    store
        .update_key(
            &first.client_id,
            &update(KeyChange::Disable(DisabledReason::Manual), None),
            &ctx(),
        )
        .await
        .unwrap();

    let all = UserQuery {
        limit: 10,
        ..Default::default()
    };
    let (users, more) = store.list_users(&all).await.unwrap();
    assert!(!more);
    let rows: Vec<(&str, bool, i64, i64)> = users
        .iter()
        .map(|s| (s.user.id.as_str(), s.user.active, s.keys, s.enabled_keys))
        .collect();
    assert_eq!(
        rows,
        [
            ("alice", true, 2, 1),
            ("bob", true, 0, 0),
            ("carol", false, 0, 0)
        ]
    );
    assert_eq!(users[0].user.permissions, perms(&["x", "y"]));

    let page = UserQuery {
        after: Some("alice".into()),
        limit: 1,
        ..Default::default()
    };
    let (users, more) = store.list_users(&page).await.unwrap();
    assert!(more, "carol follows");
    assert_eq!(users[0].user.id.as_str(), "bob");

    let one = UserQuery {
        id: Some(uid("carol")),
        limit: 1,
        ..Default::default()
    };
    let (users, _) = store.list_users(&one).await.unwrap();
    assert_eq!(users.len(), 1);
    assert!(!users[0].user.active);
}

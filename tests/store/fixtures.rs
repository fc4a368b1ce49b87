//! What the store stories share: fixed times, contexts, users and keys.

use std::sync::Arc;
use time::OffsetDateTime;

use keymint::domain::{
    Actor, ChangeSource, ClientId, DisabledReason, EnvironmentName, KeyEdit, Permissions,
    StoredSecret, User, UserEvent, UserId, UserUpsert,
};
use keymint::store::{
    Activation, AuditQuery, Dedupe, EventOutcome, KeyUpdate, NewApiKey, NewSecret, Store,
    StoreError, UserActivation, WriteContext,
};

pub fn now() -> OffsetDateTime {
    // Whole seconds, so values read back compare equal on every backend.
    OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).unwrap()
}

pub fn ctx_as(source: ChangeSource, at: OffsetDateTime) -> WriteContext {
    WriteContext {
        now: at,
        actor: Actor::system(source),
        request_id: Some("req-1".into()),
    }
}

/// A stored secret with a check tag derived from its (fake) hash.
pub fn stored(hash: &str) -> StoredSecret {
    StoredSecret {
        hash: hash.into(),
        check: Some(format!("tag-of-{hash}")),
    }
}

pub fn ctx() -> WriteContext {
    ctx_as(ChangeSource::Cli, now())
}

pub fn env(name: &str) -> EnvironmentName {
    EnvironmentName::parse(name).unwrap()
}

pub fn perms(items: &[&str]) -> Permissions {
    Permissions::parse(items).unwrap()
}

pub fn uid(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

pub async fn apply(store: &Arc<dyn Store>, event: UserEvent) -> Result<UserActivation, StoreError> {
    match store
        .apply_user_event(&event, &Dedupe::None, None, &ctx())
        .await?
    {
        EventOutcome::Applied(result) => Ok(result),
        other => panic!("no de-duplication id and no event time, yet {other:?}"),
    }
}

pub async fn upsert(
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

pub async fn user(store: &Arc<dyn Store>, id: &str, permissions: &[&str]) {
    upsert(store, id, None, false, permissions).await;
}

pub async fn deactivate(store: &Arc<dyn Store>, id: &str) -> Result<UserActivation, StoreError> {
    apply(store, UserEvent::Deactivated(uid(id))).await
}

pub async fn reactivate(store: &Arc<dyn Store>, id: &str) -> Result<UserActivation, StoreError> {
    apply(store, UserEvent::Reactivated(uid(id))).await
}

pub fn new_key(owner: &str, environment: &str, requested: Option<&[&str]>) -> NewApiKey {
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
        secret_hint: Some(token[token.len() - 4..].to_owned()),
        auth: keymint::domain::KeyAuth::Secret,
        allowed_ips: keymint::domain::AllowedIps::any(),
    }
}

pub async fn create(
    store: &Arc<dyn Store>,
    owner: &str,
    environment: &str,
) -> keymint::domain::ApiKey {
    store
        .create_key(&new_key(owner, environment, None), &ctx())
        .await
        .unwrap()
}

/// One kind of change, for tests that apply them one at a time.
pub enum KeyChange {
    Enable,
    Disable(DisabledReason),
    ReplaceSecret(String),
}

pub fn update(change: KeyChange, expected: Option<&str>) -> KeyUpdate {
    let expected_etag = expected.map(str::to_owned);
    match change {
        KeyChange::Enable => KeyUpdate {
            activation: Some(Activation::Enable),
            secret: None,
            edit: KeyEdit::default(),
            expected_etag,
        },
        KeyChange::Disable(reason) => KeyUpdate {
            activation: Some(Activation::Disable(reason)),
            secret: None,
            edit: KeyEdit::default(),
            expected_etag,
        },
        KeyChange::ReplaceSecret(hash) => KeyUpdate {
            activation: None,
            secret: Some(NewSecret {
                secret: stored(&hash),
                grace_until: None,
                hint: hash[hash.len() - 4..].to_owned(),
            }),
            edit: KeyEdit::default(),
            expected_etag,
        },
    }
}

pub async fn audit_actions(store: &Arc<dyn Store>, query: AuditQuery) -> Vec<String> {
    let (events, _) = store
        .list_audit(&AuditQuery {
            limit: 100,
            ..query
        })
        .await
        .unwrap();
    events.into_iter().map(|e| e.action).collect()
}

//! Outgoing lifecycle events: what the organisation's endpoint is told about its keys
//! (`key.created`, `key.updated`, `key.disabled`, `key.enabled`, `key.deleted`,
//! `key.secret_rotated`, `key.expiring`, `key.expired`) and users (`user.deactivated`, with
//! the client ids it disabled). Body: `{"type", "timestamp", "data": {...}}`, never a
//! secret, a hash or a key's registered public keys. Built here, written to the outbox
//! by the store in the transaction of the change.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{ApiKey, AuditAction, UserId};
use crate::clock::rfc3339;

/// One event to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleEvent {
    /// `key.created`, ...
    pub kind: &'static str,
    /// What orders delivery: the client id, or `user:ID`.
    pub subject: String,
    /// The JSON body.
    pub body: String,
}

/// The event an audited change of a key reports, if any (`reason` as audited).
pub fn key_event(
    action: AuditAction,
    key: &ApiKey,
    reason: Option<&str>,
    at: OffsetDateTime,
) -> Option<LifecycleEvent> {
    let (kind, change) = match action {
        AuditAction::KeyCreated => ("key.created", None),
        AuditAction::KeyEnabled => ("key.enabled", None),
        AuditAction::KeyDisabled => ("key.disabled", None),
        AuditAction::KeyDeleted => ("key.deleted", None),
        AuditAction::KeySecretRegenerated => ("key.secret_rotated", None),
        AuditAction::KeyExpired => ("key.expired", None),
        AuditAction::KeyRenamed => ("key.updated", Some("name")),
        AuditAction::KeyExpiryChanged => ("key.updated", Some("expiresAt")),
        AuditAction::KeyClientKeysReplaced => ("key.updated", Some("jwks")),
        AuditAction::KeyAllowedIpsChanged => ("key.updated", Some("allowedIps")),
        _ => return None,
    };
    let mut data = key_data(key);
    // `key.created` of a key without a secret audits its method as the reason: the
    // reason of a created key says nothing an owner needs.
    if action != AuditAction::KeyCreated {
        data["reason"] = reason.into();
    }
    if let Some(change) = change {
        data["changed"] = change.into();
    }
    Some(event(kind, key.client_id.to_string(), data, at))
}

/// `key.expiring`: `key` expires within the warning period.
pub fn key_expiring(key: &ApiKey, at: OffsetDateTime) -> LifecycleEvent {
    event("key.expiring", key.client_id.to_string(), key_data(key), at)
}

/// `user.deactivated`, with the client ids of the keys it disabled.
pub fn user_deactivated(user: &UserId, disabled: &[ApiKey], at: OffsetDateTime) -> LifecycleEvent {
    let client_ids: Vec<&str> = disabled.iter().map(|k| k.client_id.as_str()).collect();
    event(
        "user.deactivated",
        format!("user:{user}"),
        json!({"userId": user.as_str(), "clientIds": client_ids}),
        at,
    )
}

fn key_data(key: &ApiKey) -> Value {
    json!({
        "clientId": key.client_id.as_str(),
        "environment": key.environment.as_str(),
        "owner": key.owner_id.as_str(),
        "name": key.name,
        "expiresAt": key.expires_at.map(rfc3339),
        "enabled": key.enabled,
        "reason": null,
    })
}

fn event(kind: &'static str, subject: String, data: Value, at: OffsetDateTime) -> LifecycleEvent {
    let body = json!({"type": kind, "timestamp": rfc3339(at), "data": data});
    LifecycleEvent {
        kind,
        subject,
        body: body.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::key_credentials;
    use time::macros::datetime;

    #[test]
    fn a_key_change_names_the_key_and_never_its_secret() {
        let mut key = key_credentials("kmc_1", "alice").key;
        key.secret_hint = Some("abcd".into());
        key.name = Some("nightly".into());
        let at = datetime!(2026-12-06 12:00 UTC);
        let e = key_event(AuditAction::KeyDisabled, &key, Some("manual"), at).unwrap();
        assert_eq!((e.kind, e.subject.as_str()), ("key.disabled", "kmc_1"));
        let body: Value = serde_json::from_str(&e.body).unwrap();
        assert_eq!(body["type"], "key.disabled");
        assert_eq!(body["timestamp"], "2026-12-06T12:00:00Z");
        assert_eq!(body["data"]["clientId"], "kmc_1");
        assert_eq!(body["data"]["owner"], "alice");
        assert_eq!(body["data"]["environment"], "production");
        assert_eq!(body["data"]["name"], "nightly");
        assert_eq!(body["data"]["reason"], "manual");
        assert!(!e.body.contains("abcd") && !e.body.contains("hash"));
        let renamed = key_event(AuditAction::KeyRenamed, &key, None, at).unwrap();
        assert_eq!(renamed.kind, "key.updated");
        assert!(renamed.body.contains("\"changed\":\"name\""));
        assert!(key_event(AuditAction::KeyAddressRefused, &key, None, at).is_none());
    }

    #[test]
    fn a_deactivation_lists_the_keys_it_disabled() {
        let keys = [
            key_credentials("kmc_1", "alice").key,
            key_credentials("kmc_2", "alice").key,
        ];
        let alice = UserId::parse("alice").unwrap();
        let e = user_deactivated(&alice, &keys, datetime!(2026-12-06 12:00 UTC));
        assert_eq!(e.subject, "user:alice");
        let body: Value = serde_json::from_str(&e.body).unwrap();
        assert_eq!(body["data"]["clientIds"], json!(["kmc_1", "kmc_2"]));
    }
}

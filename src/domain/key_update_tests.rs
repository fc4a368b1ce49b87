//! Unit tests of the key update plan.

use super::*;
use crate::domain::{ApiKey, ClientId, EnvironmentName, UserId};
use time::macros::datetime;

fn perms(p: &[&str]) -> Permissions {
    Permissions::parse(p).unwrap()
}

fn stored(hash: &str) -> StoredSecret {
    StoredSecret {
        hash: hash.into(),
        check: None,
    }
}

const AT: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

fn credentials(enabled: bool, owner_active: bool) -> KeyCredentials {
    let at = AT;
    KeyCredentials {
        key: ApiKey {
            id: "key_1".into(),
            client_id: ClientId::new("kmc_1".into()),
            environment: EnvironmentName::parse("production").unwrap(),
            owner_id: UserId::parse("alice").unwrap(),
            permissions: perms(&["runs:read"]),
            enabled,
            disabled_reason: (!enabled).then_some(DisabledReason::Manual),
            name: None,
            expires_at: None,
            last_used_at: None,
            last_used_ip: None,
            etag: "e1".into(),
            created_at: at,
            updated_at: at,
            secret_hint: None,
            auth: KeyAuth::Secret,
            allowed_ips: AllowedIps::any(),
            status_index: 0,
        },
        secret: stored("old"),
        previous_secret: None,
        previous_status_index: None,
        owner_active,
    }
}

#[test]
fn a_key_freezes_the_owners_permissions_or_a_subset_of_them() {
    let held = perms(&["a", "b"]);
    assert_eq!(frozen_permissions(&held, None), Ok(held.clone()));
    assert_eq!(
        frozen_permissions(&held, Some(&perms(&["a"]))),
        Ok(perms(&["a"]))
    );
    assert_eq!(
        frozen_permissions(&held, Some(&perms(&["a", "c", "d"]))),
        Err(vec!["c".to_owned(), "d".to_owned()])
    );
}

#[test]
fn enabling_needs_an_active_owner() {
    let plan = plan_update(
        &credentials(false, false),
        Some(Activation::Enable),
        None,
        &KeyEdit::default(),
        AT,
    );
    assert_eq!(plan.unwrap_err(), UpdateRefused::OwnerInactive);
    let plan = plan_update(
        &credentials(false, true),
        Some(Activation::Enable),
        None,
        &KeyEdit::default(),
        AT,
    )
    .unwrap();
    assert!(plan.enabled && plan.disabled_reason.is_none());
    assert!(matches!(
        plan.actions[..],
        [(AuditAction::KeyEnabled, None)]
    ));
}

#[test]
fn disabling_records_its_reason_and_keeps_the_secret() {
    let current = credentials(true, false);
    let disable = Some(Activation::Disable(DisabledReason::Manual));
    let plan = plan_update(&current, disable, None, &KeyEdit::default(), AT).unwrap();
    assert!(!plan.enabled);
    assert_eq!(plan.disabled_reason, Some(DisabledReason::Manual));
    assert_eq!(plan.secret.hash, "old");
    assert_eq!(
        plan.actions,
        [(AuditAction::KeyDisabled, Some("manual".to_owned()))]
    );
}

#[test]
fn a_new_secret_keeps_the_old_one_only_with_a_grace_period() {
    let current = credentials(true, true);
    let until = datetime!(2026-01-02 0:00 UTC);
    let with_grace = NewSecret {
        secret: stored("new"),
        grace_until: Some(until),
        hint: "WXYZ".into(),
    };
    let plan = plan_update(&current, None, Some(&with_grace), &KeyEdit::default(), AT).unwrap();
    assert_eq!(plan.secret.hash, "new");
    let (previous, kept_until) = plan.previous_secret.unwrap();
    assert_eq!((previous.hash.as_str(), kept_until), ("old", until));
    assert!(plan.enabled, "a rotation leaves the activation alone");
    let at_once = NewSecret {
        grace_until: None,
        ..with_grace
    };
    let plan = plan_update(&current, None, Some(&at_once), &KeyEdit::default(), AT).unwrap();
    assert!(plan.previous_secret.is_none());
    assert!(matches!(
        plan.actions[..],
        [(AuditAction::KeySecretRegenerated, None)]
    ));
}

#[test]
fn name_and_expiry_change_only_when_they_differ() {
    let current = credentials(true, true);
    let later = AT + time::Duration::days(30);
    let edit = KeyEdit {
        name: Some(Some("ci".into())),
        expires_at: Some(Some(later)),
        client_keys: None,
        allowed_ips: None,
    };
    let plan = plan_update(&current, None, None, &edit, AT).unwrap();
    assert_eq!(
        (plan.name.as_deref(), plan.expires_at),
        (Some("ci"), Some(later))
    );
    assert!(matches!(
        plan.actions[..],
        [
            (AuditAction::KeyRenamed, None),
            (AuditAction::KeyExpiryChanged, None)
        ]
    ));
    let same = KeyEdit {
        name: Some(None),
        expires_at: Some(None),
        client_keys: None,
        allowed_ips: Some(AllowedIps::any()),
    };
    let plan = plan_update(&current, None, None, &same, AT).unwrap();
    assert!(
        plan.actions.is_empty(),
        "no name, no expiry, any address already"
    );
}

#[test]
fn an_allow_list_change_is_audited_with_its_networks() {
    let current = credentials(true, true);
    let office = AllowedIps::parse(&["203.0.113.0/24", "2001:db8::/64"]).unwrap();
    let edit = KeyEdit {
        allowed_ips: Some(office.clone()),
        ..KeyEdit::default()
    };
    let plan = plan_update(&current, None, None, &edit, AT).unwrap();
    assert_eq!(plan.allowed_ips, office);
    assert_eq!(
        plan.actions,
        [(
            AuditAction::KeyAllowedIpsChanged,
            Some("203.0.113.0/24 2001:db8::/64".to_owned())
        )]
    );
}

#[test]
fn an_expired_key_keeps_its_expiry() {
    let mut current = credentials(true, true);
    current.key.expires_at = Some(AT);
    let extend = KeyEdit {
        expires_at: Some(None),
        ..KeyEdit::default()
    };
    let refused = plan_update(&current, None, None, &extend, AT);
    assert_eq!(refused.unwrap_err(), UpdateRefused::Expired);
    let before = AT - time::Duration::seconds(1);
    let plan = plan_update(&current, None, None, &extend, before).unwrap();
    assert_eq!(plan.expires_at, None, "not yet expired: the expiry can go");
}

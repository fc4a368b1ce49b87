//! The rules of changing a key, as pure functions the store applies inside its
//! transaction: which permissions a new key freezes, and what an update writes.

use std::fmt;
use time::OffsetDateTime;

use super::{AuditAction, DisabledReason, KeyCredentials, Permissions, StoredSecret};

/// Enabling or disabling a key.
#[derive(Debug, Clone, Copy)]
pub enum Activation {
    /// Enable (refused while the owner is inactive).
    Enable,
    /// Disable for a reason.
    Disable(DisabledReason),
}

/// A replacement secret. `Debug` leaves the hash out.
#[derive(Clone)]
pub struct NewSecret {
    /// The new secret's argon2id hash and check tag.
    pub secret: StoredSecret,
    /// The old secret stays valid until then, if given (zero-downtime rotation).
    pub grace_until: Option<OffsetDateTime>,
}

impl fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSecret")
            .field("grace_until", &self.grace_until)
            .finish_non_exhaustive()
    }
}

/// The permissions a new key freezes: all its owner holds, or the requested subset.
/// `Err` names the requested permissions the owner does not hold.
pub fn frozen_permissions(
    held: &Permissions,
    requested: Option<&Permissions>,
) -> Result<Permissions, Vec<String>> {
    match requested {
        None => Ok(held.clone()),
        Some(requested) if requested.is_subset(held) => Ok(requested.clone()),
        Some(requested) => Err(requested.missing_from(held).map(str::to_owned).collect()),
    }
}

/// What an update writes, and the audit entries it leaves. `Debug` leaves the hashes out.
#[derive(Clone)]
pub struct UpdatePlan {
    /// Enabled after the update.
    pub enabled: bool,
    /// Why disabled, when it is.
    pub disabled_reason: Option<DisabledReason>,
    /// The current secret after the update.
    pub secret: StoredSecret,
    /// The previous secret and the end of its grace period.
    pub previous_secret: Option<(StoredSecret, OffsetDateTime)>,
    /// Audit actions, each with its reason.
    pub actions: Vec<(AuditAction, Option<&'static str>)>,
}

impl fmt::Debug for UpdatePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdatePlan")
            .field("enabled", &self.enabled)
            .field("disabled_reason", &self.disabled_reason)
            .field("actions", &self.actions)
            .finish_non_exhaustive()
    }
}

/// Enabling a key whose owner is inactive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerInactive;

/// Plans an update of `current`. Activation and secret change together or not at all.
pub fn plan_update(
    current: &KeyCredentials,
    activation: Option<Activation>,
    secret: Option<&NewSecret>,
) -> Result<UpdatePlan, OwnerInactive> {
    let mut actions = Vec::new();
    let (enabled, disabled_reason) = match activation {
        None => (current.key.enabled, current.key.disabled_reason),
        Some(Activation::Enable) if !current.owner_active => return Err(OwnerInactive),
        Some(Activation::Enable) => {
            actions.push((AuditAction::KeyEnabled, None));
            (true, None)
        }
        Some(Activation::Disable(reason)) => {
            actions.push((AuditAction::KeyDisabled, Some(reason.as_str())));
            (false, Some(reason))
        }
    };
    let (secret, previous_secret) = match secret {
        None => (current.secret.clone(), current.previous_secret.clone()),
        Some(new) => {
            actions.push((AuditAction::KeySecretRegenerated, None));
            // With a grace period the old secret keeps working until then.
            let previous = new.grace_until.map(|until| (current.secret.clone(), until));
            (new.secret.clone(), previous)
        }
    };
    Ok(UpdatePlan {
        enabled,
        disabled_reason,
        secret,
        previous_secret,
        actions,
    })
}

#[cfg(test)]
mod tests {
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

    fn credentials(enabled: bool, owner_active: bool) -> KeyCredentials {
        let at = datetime!(2026-01-01 0:00 UTC);
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
                etag: "e1".into(),
                created_at: at,
                updated_at: at,
            },
            secret: stored("old"),
            previous_secret: None,
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
        let plan = plan_update(&credentials(false, false), Some(Activation::Enable), None);
        assert_eq!(plan.unwrap_err(), OwnerInactive);
        let plan = plan_update(&credentials(false, true), Some(Activation::Enable), None).unwrap();
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
        let plan = plan_update(&current, disable, None).unwrap();
        assert!(!plan.enabled);
        assert_eq!(plan.disabled_reason, Some(DisabledReason::Manual));
        assert_eq!(plan.secret.hash, "old");
        assert!(matches!(
            plan.actions[..],
            [(AuditAction::KeyDisabled, Some("manual"))]
        ));
    }

    #[test]
    fn a_new_secret_keeps_the_old_one_only_with_a_grace_period() {
        let current = credentials(true, true);
        let until = datetime!(2026-01-02 0:00 UTC);
        let with_grace = NewSecret {
            secret: stored("new"),
            grace_until: Some(until),
        };
        let plan = plan_update(&current, None, Some(&with_grace)).unwrap();
        assert_eq!(plan.secret.hash, "new");
        let (previous, kept_until) = plan.previous_secret.unwrap();
        assert_eq!((previous.hash.as_str(), kept_until), ("old", until));
        assert!(plan.enabled, "a rotation leaves the activation alone");
        let at_once = NewSecret {
            grace_until: None,
            ..with_grace
        };
        let plan = plan_update(&current, None, Some(&at_once)).unwrap();
        assert!(plan.previous_secret.is_none());
        assert!(matches!(
            plan.actions[..],
            [(AuditAction::KeySecretRegenerated, None)]
        ));
    }
}

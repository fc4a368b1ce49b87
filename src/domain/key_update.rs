//! The rules of changing a key, as pure functions the store applies inside its
//! transaction: which permissions a new key freezes, and what an update writes.

use std::fmt;
use time::OffsetDateTime;

use super::{
    AllowedIps, AuditAction, DisabledReason, KeyAuth, KeyCredentials, Permissions, StoredSecret,
};

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
    /// The new secret's last four characters.
    pub hint: String,
}

impl fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSecret")
            .field("grace_until", &self.grace_until)
            .finish_non_exhaustive()
    }
}

/// Changes of a key's label, expiry and registered keys. The outer `None` leaves a field
/// as it is; the inner `None` clears it (no name, never expires).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyEdit {
    /// The new name.
    pub name: Option<Option<String>>,
    /// The new expiry, which the caller has checked is in the future.
    pub expires_at: Option<Option<OffsetDateTime>>,
    /// The new public keys of a `private_key_jwt` key (a [`KeyAuth::ClientKeys`], checked).
    pub client_keys: Option<KeyAuth>,
    /// The new IP allow-list (empty: any address).
    pub allowed_ips: Option<AllowedIps>,
}

impl KeyEdit {
    /// True when nothing is to change.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.expires_at.is_none()
            && self.client_keys.is_none()
            && self.allowed_ips.is_none()
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
    /// The name after the update.
    pub name: Option<String>,
    /// The expiry after the update.
    pub expires_at: Option<OffsetDateTime>,
    /// How clients authenticate after the update.
    pub auth: KeyAuth,
    /// The IP allow-list after the update.
    pub allowed_ips: AllowedIps,
    /// Audit actions, each with its reason.
    pub actions: Vec<(AuditAction, Option<String>)>,
}

impl fmt::Debug for UpdatePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdatePlan")
            .field("enabled", &self.enabled)
            .field("disabled_reason", &self.disabled_reason)
            .field("name", &self.name)
            .field("expires_at", &self.expires_at)
            .field("actions", &self.actions)
            .finish_non_exhaustive()
    }
}

/// Why an update is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateRefused {
    /// Enabling a key whose owner is inactive.
    OwnerInactive,
    /// Changing the expiry of a key that has already expired: an expired key stays
    /// expired (a new key is the way back), so an expiry is a promise.
    Expired,
    /// A new secret for a key whose clients authenticate with their own keys.
    NoSecret,
    /// New public keys for a key that authenticates with a secret.
    NotClientKeys,
}

/// Plans an update of `current` at `now`. Everything asked changes together or not at all.
pub fn plan_update(
    current: &KeyCredentials,
    activation: Option<Activation>,
    secret: Option<&NewSecret>,
    edit: &KeyEdit,
    now: OffsetDateTime,
) -> Result<UpdatePlan, UpdateRefused> {
    let mut actions = Vec::new();
    if secret.is_some() && !current.key.auth.has_secret() {
        return Err(UpdateRefused::NoSecret);
    }
    let auth = match &edit.client_keys {
        None => current.key.auth.clone(),
        // Only a key whose clients sign with their own keys has keys to replace; a key
        // never changes how it authenticates.
        Some(new @ KeyAuth::ClientKeys(_))
            if matches!(current.key.auth, KeyAuth::ClientKeys(_)) =>
        {
            actions.push((AuditAction::KeyClientKeysReplaced, None));
            new.clone()
        }
        Some(_) => return Err(UpdateRefused::NotClientKeys),
    };
    let (enabled, disabled_reason) = match activation {
        None => (current.key.enabled, current.key.disabled_reason),
        Some(Activation::Enable) if !current.owner_active => {
            return Err(UpdateRefused::OwnerInactive);
        }
        Some(Activation::Enable) => {
            actions.push((AuditAction::KeyEnabled, None));
            (true, None)
        }
        Some(Activation::Disable(reason)) => {
            actions.push((AuditAction::KeyDisabled, Some(reason.as_str().to_owned())));
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
    let mut name = current.key.name.clone();
    if let Some(new) = &edit.name
        && *new != name
    {
        actions.push((AuditAction::KeyRenamed, None));
        name.clone_from(new);
    }
    let mut expires_at = current.key.expires_at;
    if let Some(new) = edit.expires_at
        && new != expires_at
    {
        if expires_at.is_some_and(|at| at <= now) {
            return Err(UpdateRefused::Expired);
        }
        actions.push((AuditAction::KeyExpiryChanged, None));
        expires_at = new;
    }
    let mut allowed_ips = current.key.allowed_ips.clone();
    if let Some(new) = &edit.allowed_ips
        && *new != allowed_ips
    {
        let networks = if new.is_any() {
            "any".to_owned()
        } else {
            new.to_strings().join(" ")
        };
        actions.push((AuditAction::KeyAllowedIpsChanged, Some(networks)));
        allowed_ips = new.clone();
    }
    Ok(UpdatePlan {
        enabled,
        disabled_reason,
        secret,
        previous_secret,
        name,
        expires_at,
        auth,
        allowed_ips,
        actions,
    })
}

#[cfg(test)]
#[path = "key_update_tests.rs"]
mod tests;

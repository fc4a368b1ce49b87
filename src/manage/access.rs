//! Who may do what with keys: the rules every management door applies (GraphQL, the
//! console), in one place. A caller is a user acting with its current permissions, or
//! through one of its keys (then narrowed to that key's permissions). Holding
//! `CreateAPIKey`, `UpdateAPIKey` or `DeleteAPIKey` allows the action on the caller's own
//! keys; with `admin` too, on every key of the environment. No caller can mint or receive
//! a key stronger than itself.

use crate::domain::{ApiKey, ClientId, EnvironmentName, Permissions, UserId};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user acting.
    pub user: UserId,
    /// What this caller may do: the token's permissions for an access token, the user's
    /// current permissions for a session (IdP token or console).
    pub permissions: Permissions,
    /// The user's current permissions (the ceiling of new keys).
    pub user_permissions: Permissions,
    /// Set when the caller acts through an API key.
    pub client_id: Option<ClientId>,
}

/// Why a caller may not do something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not allowed; the message says what is missing.
    Forbidden(String),
    /// The key is not the caller's to see (its existence does not leak).
    NotFound,
}

impl Caller {
    /// A user acting with its current permissions (an IdP session token, the console).
    pub fn user(user: UserId, permissions: Permissions) -> Self {
        Self {
            user,
            permissions: permissions.clone(),
            user_permissions: permissions,
            client_id: None,
        }
    }

    /// Holders of `admin` manage every key of the environment. It is judged on the user's
    /// *current* permissions as well as the token's: a key frozen with `admin` stops being
    /// an admin the moment its owner loses it.
    pub fn is_admin(&self) -> bool {
        self.permissions.contains("admin") && self.user_permissions.contains("admin")
    }

    /// The most this caller can hand out (no escalation): the user's current permissions,
    /// narrowed to the calling key's own when the caller is a key. New keys get at most
    /// this, and a caller receives a key's secret only if the key is within it.
    pub fn ceiling(&self) -> Permissions {
        let held = self
            .user_permissions
            .iter()
            .filter(|p| self.client_id.is_none() || self.permissions.contains(p));
        Permissions::parse(held).unwrap_or_default()
    }

    /// Refuses unless the caller holds `permission` (`CreateAPIKey`, ...).
    pub fn require(&self, permission: &str) -> Result<(), Refusal> {
        if self.permissions.contains(permission) {
            Ok(())
        } else if self.client_id.is_some() && self.user_permissions.contains(permission) {
            // The owner holds it now, the key does not: keys are frozen at creation.
            Err(Refusal::Forbidden(format!(
                "this operation requires the {permission} permission; the key's owner holds it now, \
                 but a key keeps the permissions its owner had when it was created: create a new key \
                 to get the current set"
            )))
        } else {
            Err(Refusal::Forbidden(format!(
                "this operation requires the {permission} permission"
            )))
        }
    }

    /// True when the caller may see and manage `key` in `env`: its own, or any of the
    /// environment for an admin.
    pub fn may_manage(&self, key: &ApiKey, env: &EnvironmentName) -> bool {
        key.environment == *env && (key.owner_id == self.user || self.is_admin())
    }

    /// `key` if the caller may manage it, else `NotFound`.
    pub fn managed(&self, key: ApiKey, env: &EnvironmentName) -> Result<ApiKey, Refusal> {
        if self.may_manage(&key, env) {
            Ok(key)
        } else {
            Err(Refusal::NotFound)
        }
    }

    /// The permissions of a new key: the ceiling, or the subset asked for (anything
    /// beyond the ceiling is refused, never dropped).
    pub fn grant(&self, asked: Option<Permissions>) -> Result<Permissions, Refusal> {
        let ceiling = self.ceiling();
        let Some(asked) = asked else {
            return Ok(ceiling);
        };
        let beyond: Vec<&str> = asked.missing_from(&ceiling).collect();
        if beyond.is_empty() {
            Ok(asked)
        } else {
            Err(Refusal::Forbidden(format!(
                "cannot grant permissions the caller does not hold: {}",
                beyond.join(", ")
            )))
        }
    }

    /// Receiving a key's new secret is holding the key: only a caller whose ceiling
    /// covers the key's permissions may regenerate it.
    pub fn may_receive_secret_of(&self, key: &ApiKey) -> Result<(), Refusal> {
        let ceiling = self.ceiling();
        let beyond: Vec<&str> = key.permissions.missing_from(&ceiling).collect();
        if beyond.is_empty() {
            Ok(())
        } else {
            Err(Refusal::Forbidden(format!(
                "cannot receive the secret of a key holding permissions the caller does not: {}",
                beyond.join(", ")
            )))
        }
    }
}

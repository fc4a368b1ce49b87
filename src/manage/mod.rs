//! The use cases that change keys and users. The CLI calls these today; the GraphQL API
//! and the user-event listener call the same ones, so every change goes through one place.

pub mod access;
mod groups;
mod keys;
mod scim;
mod tokens;
mod users;

use std::sync::Arc;

use crate::changes::{Change, ChangeFeed};
use crate::clock::Clock;
use crate::domain::{Actor, ChangeSource};
use crate::secrets::{HashError, SecretHasher};
use crate::store::{Store, StoreError, WriteContext};

pub use keys::{CreateKey, CreatedKey, KeyChangeRequest, MAX_GRACE_SECS, UpdatedKey};

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// No such user or key.
    #[error("not found")]
    NotFound,
    /// The record changed meanwhile (stale etag) or a unique value is taken.
    #[error("the record was changed by someone else; read it again and retry")]
    Conflict,
    /// The owner is inactive.
    #[error("the owner is inactive")]
    OwnerInactive,
    /// The record changed since it was read; read it again and retry.
    #[error("the record changed since it was read")]
    Stale,
    /// The key has expired; its expiry can no longer change.
    #[error("the key has expired; create a new key instead")]
    Expired,
    /// Asked for permissions the owner lacks.
    #[error("the owner does not hold: {}", .0.join(", "))]
    NotHeld(Vec<String>),
    /// The input is malformed.
    #[error("{0}")]
    InvalidInput(String),
    /// The database or hashing pool failed.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for ManageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict => Self::Conflict,
            StoreError::OwnerInactive => Self::OwnerInactive,
            StoreError::Expired => Self::Expired,
            StoreError::Stale => Self::Stale,
            StoreError::NotHeld(p) => Self::NotHeld(p),
            StoreError::WrongAuthMethod(why) => Self::InvalidInput(why.to_owned()),
            StoreError::UnknownUsers(ids) => {
                Self::InvalidInput(format!("no such user: {}", ids.join(", ")))
            }
            StoreError::Backend(m) | StoreError::Misconfigured(m) => Self::Unavailable(m),
        }
    }
}

impl From<HashError> for ManageError {
    fn from(e: HashError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// The collaborators every change needs, and who is acting.
#[derive(Clone)]
pub struct Management {
    store: Arc<dyn Store>,
    hasher: Arc<SecretHasher>,
    clock: Arc<dyn Clock>,
    changes: Arc<ChangeFeed>,
    actor: Actor,
    request_id: Option<String>,
}

impl Management {
    /// Bundles the collaborators; the actor is the CLI until [`Self::acting_as`].
    pub fn new(
        store: Arc<dyn Store>,
        hasher: Arc<SecretHasher>,
        clock: Arc<dyn Clock>,
        changes: Arc<ChangeFeed>,
    ) -> Self {
        Self {
            store,
            hasher,
            clock,
            changes,
            actor: Actor::system(ChangeSource::Cli),
            request_id: None,
        }
    }

    /// The same use cases performed by `actor`, recorded with `request_id`.
    pub fn acting_as(&self, actor: Actor, request_id: Option<String>) -> Self {
        Self {
            actor,
            request_id,
            ..self.clone()
        }
    }

    /// Now, on the use cases' clock.
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// The use cases' clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// The store, for reads.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The context of a write made now by this actor (for writes outside these use cases,
    /// such as signing-key rotation).
    pub fn context(&self) -> WriteContext {
        self.write_context()
    }

    fn write_context(&self) -> WriteContext {
        WriteContext {
            now: self.clock.now(),
            actor: self.actor.clone(),
            request_id: self.request_id.clone(),
        }
    }

    /// Tells this process at once; other instances learn it from the change feed.
    fn publish(&self, change: Change) {
        self.changes.publish(change);
    }
}

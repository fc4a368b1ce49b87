//! The use cases that change keys and users. The CLI calls these today; the GraphQL API
//! and the user-event listener call the same ones, so every change goes through one place.

mod keys;
mod users;

use std::sync::Arc;

use crate::clock::Clock;
use crate::secrets::{HashError, SecretHasher};
use crate::store::{Store, StoreError};

pub use keys::{CreateKey, CreatedKey};

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
            StoreError::NotHeld(p) => Self::NotHeld(p),
            StoreError::Backend(m) => Self::Unavailable(m),
        }
    }
}

impl From<HashError> for ManageError {
    fn from(e: HashError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// The collaborators every change needs.
#[derive(Clone)]
pub struct Management {
    store: Arc<dyn Store>,
    hasher: Arc<SecretHasher>,
    clock: Arc<dyn Clock>,
}

impl Management {
    /// Bundles the collaborators.
    pub fn new(store: Arc<dyn Store>, hasher: Arc<SecretHasher>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            hasher,
            clock,
        }
    }

    /// The store, for reads.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// A fresh random etag.
fn new_etag() -> String {
    crate::secrets::random_token(12)
}

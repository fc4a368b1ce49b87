//! The store's one error type.

/// Errors of the store. Constraint violations are mapped here, never leaked raw.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The user or key does not exist.
    #[error("not found")]
    NotFound,
    /// The expected etag is stale, or a unique value is taken.
    #[error("conflict: the record changed or already exists")]
    Conflict,
    /// The owner is inactive, so the key cannot be created or enabled.
    #[error("the owner is inactive")]
    OwnerInactive,
    /// The record changed since it was read (a read-modify-write lost the race).
    #[error("the record changed since it was read")]
    Stale,
    /// The key has expired, so its expiry can no longer change.
    #[error("the key has expired")]
    Expired,
    /// The change does not apply to how this key authenticates (the message says why).
    #[error("{0}")]
    WrongAuthMethod(&'static str),
    /// A key asked for permissions its owner does not hold.
    #[error("the owner does not hold: {}", .0.join(", "))]
    NotHeld(Vec<String>),
    /// Members named that are not Keymint users (the first few).
    #[error("no such user: {}", .0.join(", "))]
    UnknownUsers(Vec<String>),
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Backend(String),
    /// The database answered and refused what `DATABASE_URL` says (a wrong password, no
    /// such database): trying again will not help.
    #[error("{0}")]
    Misconfigured(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict,
            _ => Self::Backend(e.to_string()),
        }
    }
}

//! Persistence: one [`Store`] trait, implemented for SQLite (the embedded default) and
//! PostgreSQL (production). Every method is one atomic use case in its own transaction.

mod postgres;
mod rows;
mod sql;
mod sqlite;

use async_trait::async_trait;
use std::sync::Arc;
use time::OffsetDateTime;

use crate::domain::{
    ApiKey, ClientId, DisabledReason, EnvironmentName, KeyCredentials, Permissions, User, UserId,
    UserUpsert,
};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

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
    /// A key asked for permissions its owner does not hold.
    #[error("the owner does not hold: {}", .0.join(", "))]
    NotHeld(Vec<String>),
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Backend(String),
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

/// A key to insert. The store freezes the owner's permissions (narrowed to `requested`)
/// in the same transaction that checks the owner is active.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Opaque id.
    pub id: String,
    /// Public client id.
    pub client_id: ClientId,
    /// argon2id PHC string of the secret.
    pub secret_hash: String,
    /// Environment of the key.
    pub environment: EnvironmentName,
    /// Owner.
    pub owner_id: UserId,
    /// A subset of the owner's permissions; `None` takes all of them.
    pub requested: Option<Permissions>,
    /// Human label.
    pub name: Option<String>,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Initial etag.
    pub etag: String,
}

/// One change to a key.
#[derive(Debug, Clone)]
pub enum KeyChange {
    /// Enable (refused while the owner is inactive).
    Enable,
    /// Disable for `reason`.
    Disable(DisabledReason),
    /// Replace the secret hash.
    ReplaceSecret(String),
}

/// A change with its concurrency guard.
#[derive(Debug, Clone)]
pub struct KeyUpdate {
    /// What to change.
    pub change: KeyChange,
    /// When given, the change applies only if the key's etag still equals it.
    pub expected_etag: Option<String>,
    /// The etag the key gets.
    pub new_etag: String,
}

/// A page of keys in creation order.
#[derive(Debug, Clone)]
pub struct KeyPage {
    /// Keys with their cursor (a position usable as `after`).
    pub entries: Vec<(i64, ApiKey)>,
    /// True when more keys follow.
    pub has_next_page: bool,
    /// Keys matching the filter in total.
    pub total_count: i64,
}

/// Which keys to list.
#[derive(Debug, Clone)]
pub struct KeyQuery {
    /// Environment.
    pub environment: EnvironmentName,
    /// Only this owner's keys, when given.
    pub owner: Option<UserId>,
    /// Start after this cursor.
    pub after: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// Result of activating or deactivating a user.
#[derive(Debug, Clone)]
pub struct UserActivation {
    /// The user after the change.
    pub user: User,
    /// Keys disabled by this change (deactivation only).
    pub disabled_keys: Vec<ApiKey>,
}

/// Keymint's persistence.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Checks the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates the user or replaces its profile and current permissions. New users are
    /// active; the activity of existing ones is unchanged. Keys are not touched.
    async fn upsert_user(&self, user: &UserUpsert, now: OffsetDateTime)
    -> Result<User, StoreError>;

    /// The user with `id`.
    async fn get_user(&self, id: &UserId) -> Result<User, StoreError>;

    /// Sets the user's activity. Deactivation disables every enabled key of the user, in
    /// every environment, with reason `owner_deactivated`, in the same transaction.
    /// Reactivation enables nothing.
    async fn set_user_active(
        &self,
        id: &UserId,
        active: bool,
        new_etag: &str,
        now: OffsetDateTime,
    ) -> Result<UserActivation, StoreError>;

    /// Inserts a key whose permissions are the owner's current ones (or `requested`,
    /// which must be a subset). Fails with `OwnerInactive` or `NotHeld`.
    async fn create_key(&self, key: &NewApiKey, now: OffsetDateTime) -> Result<ApiKey, StoreError>;

    /// The key with `client_id`.
    async fn get_key(&self, client_id: &ClientId) -> Result<ApiKey, StoreError>;

    /// What the token endpoint needs to authenticate `client_id`; `None` if unknown.
    async fn find_credentials(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<KeyCredentials>, StoreError>;

    /// A page of keys.
    async fn list_keys(&self, query: &KeyQuery) -> Result<KeyPage, StoreError>;

    /// Applies `update` atomically; `Conflict` when the expected etag is stale.
    async fn update_key(
        &self,
        client_id: &ClientId,
        update: &KeyUpdate,
        now: OffsetDateTime,
    ) -> Result<ApiKey, StoreError>;

    /// Deletes the key; `Conflict` when the expected etag is stale.
    async fn delete_key(
        &self,
        client_id: &ClientId,
        expected_etag: Option<&str>,
    ) -> Result<ApiKey, StoreError>;
}

/// Opens the store named by `url`: `sqlite:` (file created when missing) or `postgres:`.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else {
        Err(StoreError::Backend(
            "DATABASE_URL must start with sqlite: or postgres://".to_owned(),
        ))
    }
}

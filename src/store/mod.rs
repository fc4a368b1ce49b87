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
    Actor, ApiKey, AuditEvent, ClientId, EnvironmentName, KeyCredentials, Permissions,
    StoredSecret, User, UserEvent, UserId,
};

pub use crate::domain::{Activation, NewSecret};
pub use postgres::{MAX_EVENT_ATTEMPTS, PgStore};
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

/// Connections of a store's pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolUsage {
    /// Open connections (busy and idle).
    pub open: u32,
    /// Idle connections.
    pub idle: u32,
    /// The pool's limit.
    pub max: u32,
}

/// Who is writing, when, and for which request: recorded in the audit trail written in
/// the same transaction as the change.
#[derive(Debug, Clone)]
pub struct WriteContext {
    /// The time of the change.
    pub now: OffsetDateTime,
    /// Who makes it.
    pub actor: Actor,
    /// Request or event id, for correlating logs and audit entries.
    pub request_id: Option<String>,
}

/// A key to insert. The store freezes the owner's permissions (narrowed to `requested`)
/// in the same transaction that checks the owner is active. `Debug` leaves the hash out.
#[derive(Clone)]
pub struct NewApiKey {
    /// Opaque id.
    pub id: String,
    /// Public client id.
    pub client_id: ClientId,
    /// The secret's argon2id hash and check tag.
    pub secret: StoredSecret,
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
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("environment", &self.environment)
            .field("owner_id", &self.owner_id)
            .field("requested", &self.requested)
            .field("name", &self.name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Changes to one key, applied together in one transaction, with a concurrency guard.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    /// Enable or disable.
    pub activation: Option<Activation>,
    /// Replace the secret.
    pub secret: Option<NewSecret>,
    /// When given, the update applies only if the key's etag still equals it.
    pub expected_etag: Option<String>,
}

/// A user with the number of keys it owns (in every environment).
#[derive(Debug, Clone)]
pub struct UserSummary {
    /// The user.
    pub user: User,
    /// Keys it owns.
    pub keys: i64,
    /// Of those, enabled.
    pub enabled_keys: i64,
}

/// Which users to list, by id.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Only this user.
    pub id: Option<UserId>,
    /// Start after this id.
    pub after: Option<String>,
    /// At most this many.
    pub limit: u32,
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

/// Which audit entries to list, oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries of this environment, plus user-level entries (which have none).
    pub environment: Option<String>,
    /// Only entries about this key.
    pub client_id: Option<String>,
    /// Only entries about this user.
    pub user_id: Option<String>,
    /// Start after this position (in `newest_first` order: before it).
    pub after: Option<i64>,
    /// At most this many.
    pub limit: u32,
    /// Newest entries first, instead of oldest first.
    pub newest_first: bool,
}

/// Result of applying a user event.
#[derive(Debug, Clone)]
pub struct UserActivation {
    /// The user after the change.
    pub user: User,
    /// Keys disabled by this change (deactivation only).
    pub disabled_keys: Vec<ApiKey>,
}

/// How a user event is protected against being applied twice.
#[derive(Debug, Clone)]
pub enum Dedupe {
    /// Not at all (CLI).
    None,
    /// By its Standard Webhooks `webhook-id`.
    WebhookId(String),
}

/// What applying a user event did.
#[derive(Debug, Clone)]
pub enum EventOutcome {
    /// The event took effect.
    Applied(UserActivation),
    /// The same event was applied before; nothing changed.
    Duplicate,
    /// The event is older than the last directory event applied for its user (a
    /// delayed retry, say); nothing changed.
    Stale,
}

/// A row of `keymint_user_events` that was handled.
#[derive(Debug, Clone)]
pub struct TableEventOutcome {
    /// Row id.
    pub id: i64,
    /// The effect, or why the row could not be applied (recorded on the row).
    pub result: Result<UserActivation, String>,
}

/// An entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// Position.
    pub seq: i64,
    /// `key` or `user`.
    pub kind: String,
    /// Client id or user id.
    pub subject: String,
}

/// Wake-ups from the database (PostgreSQL LISTEN); SQLite has none and is polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wakeup {
    /// The change feed has new rows.
    Changes,
    /// `keymint_user_events` has new rows.
    UserEvents,
    /// The notification connection is (re)established; anything may have been missed.
    Connected,
    /// The notification connection is down (reason), retrying with back-off.
    Disconnected(String),
}

/// Keymint's persistence. Every method that changes something runs in one transaction
/// that also appends the audit entries and change-feed rows of that change.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Checks the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Connections of the pool, for metrics.
    fn pool_usage(&self) -> PoolUsage;

    /// The user with `id`.
    async fn get_user(&self, id: &UserId) -> Result<User, StoreError>;

    /// Users in id order with their key counts; `true` when more follow.
    async fn list_users(&self, query: &UserQuery) -> Result<(Vec<UserSummary>, bool), StoreError>;

    /// Applies a user event: upsert (profile and current permissions; keys untouched),
    /// deactivation (the user and every enabled key of theirs, in every environment, with
    /// reason `owner_deactivated`) or reactivation (keys stay disabled). Events from the
    /// directory about unknown users create them; the CLI gets `NotFound` instead.
    /// With `Dedupe::WebhookId`, an id seen before returns `Duplicate` and changes nothing.
    /// `occurred_at` is when the directory emitted the event (webhook timestamp, table row
    /// time): directory events of one user take effect in that order, and one older than
    /// the last applied returns `Stale` and changes nothing (a retried reactivation must
    /// not undo a later deactivation). `None` (CLI, management) is applied as it comes.
    async fn apply_user_event(
        &self,
        event: &UserEvent,
        dedupe: &Dedupe,
        occurred_at: Option<OffsetDateTime>,
        ctx: &WriteContext,
    ) -> Result<EventOutcome, StoreError>;

    /// Applies the oldest unprocessed `keymint_user_events` row, if any, and marks it
    /// processed in the same transaction. Rows are applied one at a time in id order
    /// across all instances. Always `None` on SQLite.
    async fn apply_next_table_event(
        &self,
        instance: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TableEventOutcome>, StoreError>;

    /// Unprocessed `keymint_user_events` rows and the creation time of the oldest.
    async fn table_event_backlog(&self) -> Result<(i64, Option<OffsetDateTime>), StoreError>;

    /// Inserts a key whose permissions are the owner's current ones (or `requested`,
    /// which must be a subset). Fails with `OwnerInactive` or `NotHeld`.
    async fn create_key(&self, key: &NewApiKey, ctx: &WriteContext) -> Result<ApiKey, StoreError>;

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
        ctx: &WriteContext,
    ) -> Result<ApiKey, StoreError>;

    /// Deletes the key; `Conflict` when the expected etag is stale.
    async fn delete_key(
        &self,
        client_id: &ClientId,
        expected_etag: Option<&str>,
        ctx: &WriteContext,
    ) -> Result<ApiKey, StoreError>;

    /// Disables every enabled key past its expiry (reason `expired`, audit `key.expired`).
    async fn expire_keys(&self, now: OffsetDateTime) -> Result<Vec<ApiKey>, StoreError>;

    /// Stores the check tag of the secret whose hash is `hash` (current or previous) if
    /// it has none yet: keys made before tags existed get theirs at their next successful
    /// verification. Not a change of the key (no etag, audit or change-feed entry).
    async fn record_secret_check(
        &self,
        client_id: &ClientId,
        hash: &str,
        check: &str,
    ) -> Result<(), StoreError>;

    /// Records when keys were last used (batched; never earlier than what is stored).
    async fn record_last_used(&self, uses: &[(ClientId, OffsetDateTime)])
    -> Result<(), StoreError>;

    /// Remembers that the token `jti` is revoked until `expires_at` (then forgotten).
    /// Revoking twice is not an error.
    async fn revoke_token(
        &self,
        jti: &str,
        environment: &EnvironmentName,
        client_id: Option<&ClientId>,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// True when the token `jti` was revoked.
    async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError>;

    /// How many audit entries match `query`'s filters (its position and limit aside).
    async fn count_audit(&self, query: &AuditQuery) -> Result<i64, StoreError>;

    /// Audit entries, oldest first, and whether more follow.
    async fn list_audit(&self, query: &AuditQuery) -> Result<(Vec<AuditEvent>, bool), StoreError>;

    /// Change-feed entries after `after`, oldest first.
    async fn changes_since(&self, after: i64, limit: u32) -> Result<Vec<ChangeRecord>, StoreError>;

    /// The newest change-feed position (0 when empty).
    async fn latest_change(&self) -> Result<i64, StoreError>;

    /// Forgets change-feed rows and webhook ids older than `before`.
    async fn prune(&self, before: OffsetDateTime) -> Result<(), StoreError>;

    /// Starts database notifications, if the backend has them.
    async fn wakeups(&self) -> Option<tokio::sync::mpsc::Receiver<Wakeup>>;

    /// How often to poll when there are no notifications (or as a safety net).
    fn poll_interval(&self) -> std::time::Duration;
}

/// Opens the store named by `url`: `sqlite:` (file created when missing) or `postgres:`.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    connect_with(url, Arc::new(crate::random::SystemRandom)).await
}

/// Like [`connect`], with etags from `random`.
pub async fn connect_with(
    url: &str,
    random: Arc<dyn crate::random::Random>,
) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?.with_random(random)))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(
            SqliteStore::connect(url).await?.with_random(random),
        ))
    } else {
        Err(StoreError::Backend(
            "DATABASE_URL must start with sqlite: or postgres://".to_owned(),
        ))
    }
}

//! Persistence: one [`Store`] trait, implemented for SQLite (the embedded default) and
//! PostgreSQL (production). Every method is one atomic use case in its own transaction.

mod connect;
mod error;
mod postgres;
mod rows;
mod scim_types;
mod sql;
mod sqlite;
mod status;
mod types;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{
    ApiKey, AuditAction, AuditEvent, ClientId, EnvironmentName, KeyCredentials, Permissions, User,
    UserEvent, UserId,
};

pub use crate::domain::{Activation, KeyEdit, NewSecret};
pub use connect::{connect, connect_with};
pub use error::StoreError;
pub use postgres::{MAX_EVENT_ATTEMPTS, PgStore};
pub use scim_types::{
    GroupMapping, MemberChange, ScimGroupRecord, ScimGroupWrite, ScimOutcome, ScimQuery,
    ScimUserRecord, ScimWrite,
};
pub use sqlite::SqliteStore;
pub use status::{StatusEntry, StatusScope, StatusSnapshot};
pub use types::*;

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
    /// With `Dedupe::WebhookId`, an id seen before returns `Duplicate` and changes nothing;
    /// with `Dedupe::NewUser`, so does an upsert of a user that exists.
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

    /// Appends an audit entry about `key` that is not a change of it (a refused address).
    async fn audit_key(
        &self,
        key: &ApiKey,
        action: AuditAction,
        reason: Option<&str>,
        target: Option<&str>,
        ctx: &WriteContext,
    ) -> Result<(), StoreError>;

    /// Records when and from where keys were last used (batched; never earlier than what
    /// is stored).
    async fn record_last_used(&self, uses: &[KeyUse]) -> Result<(), StoreError>;

    /// Remembers that a token is revoked until its expiry (then forgotten), with a
    /// `token.revoked` audit entry. Revoking twice is not an error and is recorded once;
    /// `Ok(false)` says the token was already revoked.
    async fn revoke_token(
        &self,
        token: &TokenRevocation,
        ctx: &WriteContext,
    ) -> Result<bool, StoreError>;

    /// Signing keys (of `environment`, or all), ordered by environment, then creation.
    async fn signing_keys(
        &self,
        environment: Option<&EnvironmentName>,
    ) -> Result<Vec<SigningKeyRecord>, StoreError>;

    /// Inserts a signing key if `when` holds, decided under a lock (see [`InsertWhen`]),
    /// with a `signing_key.created` audit entry and a change-feed row. Returns the key as
    /// stored (its `created_at` distinct from every other key of the environment), or
    /// `None` when `when` did not hold.
    async fn insert_signing_key(
        &self,
        key: &SigningKeyRecord,
        when: InsertWhen,
        ctx: &WriteContext,
    ) -> Result<Option<SigningKeyRecord>, StoreError>;

    /// Replaces the sealing of keys, each given with the encryption key id it was read
    /// under, in one transaction (`Conflict` if any changed meanwhile); audited.
    async fn rewrap_signing_keys(
        &self,
        rewrapped: &[(SigningKeyRecord, String)],
        ctx: &WriteContext,
    ) -> Result<usize, StoreError>;

    /// The SCIM resource of user `id`, if provisioned through SCIM (and not deleted).
    async fn scim_user(&self, id: &UserId) -> Result<Option<ScimUserRecord>, StoreError>;

    /// A page of SCIM users matching `query`, in id order, and how many match in all.
    async fn scim_users(&self, query: &ScimQuery)
    -> Result<(Vec<ScimUserRecord>, i64), StoreError>;

    /// Creates or replaces a SCIM user in one transaction with its effect on the Keymint
    /// user: upsert, then deactivation (every key disabled, reason `owner_deactivated`) or
    /// reactivation when `active` changed. `Conflict` for a taken `userName` (or, on
    /// create, an existing resource); `NotFound` on replace of none.
    async fn scim_write(
        &self,
        write: &ScimWrite,
        ctx: &WriteContext,
    ) -> Result<ScimOutcome, StoreError>;

    /// Deletes a SCIM user's resource and deactivates the user, in one transaction (the
    /// user, its keys and audit trail stay). `NotFound` when there is no such resource.
    async fn scim_delete(
        &self,
        id: &UserId,
        ctx: &WriteContext,
    ) -> Result<UserActivation, StoreError>;

    /// The SCIM group `id`, with its members when `members` is true.
    async fn scim_group(
        &self,
        id: &str,
        members: bool,
    ) -> Result<Option<ScimGroupRecord>, StoreError>;

    /// A page of SCIM groups matching `query`, in id order (with their members when
    /// `members` is true), and how many match in all.
    async fn scim_groups(
        &self,
        query: &ScimQuery,
        members: bool,
    ) -> Result<(Vec<ScimGroupRecord>, i64), StoreError>;

    /// Creates or replaces a SCIM group and changes its members in one transaction that
    /// also recomputes `group_permissions` of every user whose groups' permissions it
    /// changes. `Conflict` for a taken displayName; `NotFound` on replace of none;
    /// `UnknownUsers` for members that are not Keymint users. Gives the stored group
    /// without its members.
    async fn scim_group_write(
        &self,
        write: &ScimGroupWrite,
        ctx: &WriteContext,
    ) -> Result<ScimGroupRecord, StoreError>;

    /// Deletes a SCIM group: its members leave it (their permissions recomputed).
    async fn scim_group_delete(&self, id: &str, ctx: &WriteContext) -> Result<(), StoreError>;

    /// Sets what members of groups named `name` (case-insensitively) hold; an empty set
    /// removes the mapping. Recomputes the members' permissions in the same transaction;
    /// gives how many users' permissions changed.
    async fn set_group_permissions(
        &self,
        name: &str,
        permissions: &Permissions,
        ctx: &WriteContext,
    ) -> Result<u64, StoreError>;

    /// Every group mapping, by name.
    async fn group_mappings(&self) -> Result<Vec<GroupMapping>, StoreError>;

    /// Stores a one-time console sign-in link (its token's hash) for an active user
    /// (`NotFound`, `OwnerInactive` otherwise); audited.
    async fn create_console_link(
        &self,
        token_hash: &str,
        user: &UserId,
        expires_at: OffsetDateTime,
        ctx: &WriteContext,
    ) -> Result<(), StoreError>;

    /// Uses a link (unused and unexpired, else `NotFound`) and creates `session` for its
    /// user (active, else `OwnerInactive`), in one transaction; audited.
    async fn redeem_console_link(
        &self,
        token_hash: &str,
        session: &NewConsoleSession,
        ctx: &WriteContext,
    ) -> Result<User, StoreError>;

    /// Creates a session for an active user (an OpenID Connect sign-in); audited.
    async fn create_console_session(
        &self,
        user: &UserId,
        session: &NewConsoleSession,
        ctx: &WriteContext,
    ) -> Result<User, StoreError>;

    /// Records an OpenID Connect sign-in in flight.
    async fn begin_console_oidc(
        &self,
        login: &OidcLogin,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Takes (deletes) the sign-in in flight of a `state` hash: `None` when there is none,
    /// it was taken already, or it has expired.
    async fn take_console_oidc(
        &self,
        state_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<OidcLogin>, StoreError>;

    /// The session of `token_hash` with its user, if unexpired, used within `idle`, and
    /// its user active; an expired one is deleted.
    async fn console_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
        idle: time::Duration,
    ) -> Result<Option<ConsoleSession>, StoreError>;

    /// Ends a session (sign-out); audited.
    async fn end_console_session(
        &self,
        token_hash: &str,
        ctx: &WriteContext,
    ) -> Result<(), StoreError>;

    /// True when the token `jti` was revoked.
    async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError>;

    /// Every revocation whose token has not expired at `now`: its `jti` and expiry.
    async fn unexpired_revocations(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<(String, OffsetDateTime)>, StoreError>;

    /// How many audit entries match `query`'s filters (its position and limit aside).
    async fn count_audit(&self, query: &AuditQuery) -> Result<i64, StoreError>;

    /// Audit entries, oldest first, and whether more follow.
    async fn list_audit(&self, query: &AuditQuery) -> Result<(Vec<AuditEvent>, bool), StoreError>;

    /// Change-feed entries after `after`, oldest first.
    async fn changes_since(&self, after: i64, limit: u32) -> Result<Vec<ChangeRecord>, StoreError>;

    /// The newest change-feed position (0 when empty).
    async fn latest_change(&self) -> Result<i64, StoreError>;

    /// Forgets change-feed rows, webhook ids and revocations older than `now - keep`, and
    /// console links, sessions, sign-ins and client assertions past their own expiry.
    async fn prune(&self, now: OffsetDateTime, keep: time::Duration) -> Result<(), StoreError>;

    /// Records that an instance serves `public_url` (at `now`). Every instance on one
    /// database must serve the same one, or each refuses the others' tokens.
    async fn record_public_url(
        &self,
        public_url: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The public URLs instances recorded since `since`, sorted.
    async fn public_urls(&self, since: OffsetDateTime) -> Result<Vec<String>, StoreError>;

    /// Records client assertions' `jti`s until their `expires_at`, in one statement; per
    /// assertion `false` when it was seen before (by any instance): a replay. Each
    /// `(client_id, jti)` appears once in `batch`. Pruned by [`Store::prune`] once expired.
    async fn record_client_assertions(
        &self,
        batch: &[NewAssertion<'_>],
    ) -> Result<Vec<bool>, StoreError>;

    /// Writes `key.expiring` for every enabled key expiring after `now` and by `until`
    /// that was not warned about (once per key and expiry, across instances); the keys.
    async fn warn_expiring(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<ApiKey>, StoreError>;

    /// Claims up to `limit` due lifecycle events (the oldest undelivered one of each
    /// subject), holding them until `lease_until`.
    async fn claim_events(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Removes a delivered event.
    async fn event_delivered(&self, id: &str) -> Result<(), StoreError>;

    /// Records a failed delivery: due again at `next_attempt_at`, or set aside when that
    /// is past the event's delivery window.
    async fn event_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Events in the outbox, oldest first (only the set-aside ones, or all).
    async fn list_events(
        &self,
        set_aside_only: bool,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError>;

    /// The status-list counter of `environment`, then the entries of `scope`.
    async fn status_snapshot(
        &self,
        environment: &EnvironmentName,
        scope: StatusScope<'_>,
    ) -> Result<StatusSnapshot, StoreError>;

    /// Counts of the outbox.
    async fn outbox_state(&self) -> Result<OutboxState, StoreError>;

    /// Makes set-aside events (one, or all) due at once with a new delivery window; how
    /// many.
    async fn retry_events(&self, id: Option<&str>, now: OffsetDateTime) -> Result<u64, StoreError>;

    /// Starts database notifications, if the backend has them.
    async fn wakeups(&self) -> Option<tokio::sync::mpsc::Receiver<Wakeup>>;

    /// How often to poll when there are no notifications (or as a safety net).
    fn poll_interval(&self) -> std::time::Duration;
}

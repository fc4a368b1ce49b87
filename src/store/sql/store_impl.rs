//! The one implementation of [`Store`] both backends share: every method calls the
//! generic `SqlStore<DB>` method of the same name, or the [`Backend`]'s own for what only
//! one database has (the `keymint_user_events` table, notifications). A new store method
//! is written in the trait, in generic SQL under `sql/`, and here.
//!
//! Calls name `SqlStore::<DB>` so that they resolve to the inherent generic method, never
//! to the trait method itself.

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

use super::super::rows::{
    AuditRow, ChangeRow, CredentialsRow, GroupMappingRow, KeyRow, ScimGroupRow, ScimUserRow,
    SigningKeyRow, UserRow, UserSummaryRow,
};
use super::super::{
    AuditQuery, ChangeRecord, ConsoleSession, Dedupe, EventOutcome, GroupMapping, InsertWhen,
    KeyPage, KeyQuery, KeyUpdate, KeyUse, NewApiKey, NewAssertion, NewConsoleSession, OidcLogin,
    OutboxEvent, OutboxState, PoolUsage, ScimGroupRecord, ScimGroupWrite, ScimOutcome, ScimQuery,
    ScimUserRecord, ScimWrite, SigningKeyRecord, StatusScope, StatusSnapshot, Store, StoreError,
    TableEventOutcome, TokenRevocation, UserActivation, UserQuery, UserSummary, Wakeup,
    WriteContext,
};
use super::{Backend, Journal, SqlStore};
use crate::domain::{
    ApiKey, AuditAction, AuditEvent, ClientId, EnvironmentName, KeyCredentials, User, UserEvent,
    UserId,
};

// The bounds name the store's private row types; the impl is the only user.
#[allow(private_bounds)]
#[async_trait::async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: Backend,
    Self: Journal<Db = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> &'e [u8]: Encode<'e, DB> + Type<DB>,
    for<'e> Option<&'e str>: Encode<'e, DB> + Type<DB>,
    for<'e> bool: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> OffsetDateTime: Encode<'e, DB> + Type<DB>,
    for<'e> Option<OffsetDateTime>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
    for<'r> (Option<i64>,): FromRow<'r, DB::Row>,
    for<'r> (Option<OffsetDateTime>,): FromRow<'r, DB::Row>,
    for<'r> (i64, String, String): FromRow<'r, DB::Row>,
    for<'r> (String, String): FromRow<'r, DB::Row>,
    for<'r> (String, i64): FromRow<'r, DB::Row>,
    for<'r> super::key_events::EventRow: FromRow<'r, DB::Row>,
    for<'r> super::status_lists::StatusRow: FromRow<'r, DB::Row>,
    for<'r> (String, OffsetDateTime): FromRow<'r, DB::Row>,
    for<'r> (OffsetDateTime, String): FromRow<'r, DB::Row>,
    for<'r> (String, String, OffsetDateTime): FromRow<'r, DB::Row>,
    for<'r> (
        String,
        String,
        String,
        OffsetDateTime,
        OffsetDateTime,
        OffsetDateTime,
    ): FromRow<'r, DB::Row>,
    for<'r> UserRow: FromRow<'r, DB::Row>,
    for<'r> UserSummaryRow: FromRow<'r, DB::Row>,
    for<'r> KeyRow: FromRow<'r, DB::Row>,
    for<'r> CredentialsRow: FromRow<'r, DB::Row>,
    for<'r> AuditRow: FromRow<'r, DB::Row>,
    for<'r> ChangeRow: FromRow<'r, DB::Row>,
    for<'r> SigningKeyRow: FromRow<'r, DB::Row>,
    for<'r> ScimUserRow: FromRow<'r, DB::Row>,
    for<'r> ScimGroupRow: FromRow<'r, DB::Row>,
    for<'r> GroupMappingRow: FromRow<'r, DB::Row>,
{
    async fn migrate(&self) -> Result<(), StoreError> {
        DB::migrate(&self.pool).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        SqlStore::<DB>::ping(self).await
    }
    fn pool_usage(&self) -> PoolUsage {
        SqlStore::<DB>::pool_usage(self)
    }
    async fn get_user(&self, id: &UserId) -> Result<User, StoreError> {
        SqlStore::<DB>::get_user(self, id).await
    }
    async fn list_users(&self, query: &UserQuery) -> Result<(Vec<UserSummary>, bool), StoreError> {
        SqlStore::<DB>::list_users(self, query).await
    }
    async fn apply_user_event(
        &self,
        event: &UserEvent,
        dedupe: &Dedupe,
        occurred_at: Option<OffsetDateTime>,
        ctx: &WriteContext,
    ) -> Result<EventOutcome, StoreError> {
        SqlStore::<DB>::apply_user_event(self, event, dedupe, occurred_at, ctx).await
    }
    async fn apply_next_table_event(
        &self,
        instance: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TableEventOutcome>, StoreError> {
        DB::next_table_event(self, instance, now).await
    }
    async fn table_event_backlog(&self) -> Result<(i64, Option<OffsetDateTime>), StoreError> {
        DB::table_event_backlog(self).await
    }
    async fn create_key(&self, key: &NewApiKey, ctx: &WriteContext) -> Result<ApiKey, StoreError> {
        SqlStore::<DB>::create_key(self, key, ctx).await
    }
    async fn get_key(&self, client_id: &ClientId) -> Result<ApiKey, StoreError> {
        SqlStore::<DB>::get_key(self, client_id).await
    }
    async fn find_credentials(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<KeyCredentials>, StoreError> {
        SqlStore::<DB>::find_credentials(self, client_id).await
    }
    async fn list_keys(&self, query: &KeyQuery) -> Result<KeyPage, StoreError> {
        SqlStore::<DB>::list_keys(self, query).await
    }
    async fn update_key(
        &self,
        client_id: &ClientId,
        update: &KeyUpdate,
        ctx: &WriteContext,
    ) -> Result<ApiKey, StoreError> {
        SqlStore::<DB>::update_key(self, client_id, update, ctx).await
    }
    async fn delete_key(
        &self,
        client_id: &ClientId,
        expected_etag: Option<&str>,
        ctx: &WriteContext,
    ) -> Result<ApiKey, StoreError> {
        SqlStore::<DB>::delete_key(self, client_id, expected_etag, ctx).await
    }
    async fn expire_keys(&self, now: OffsetDateTime) -> Result<Vec<ApiKey>, StoreError> {
        SqlStore::<DB>::expire_keys(self, now).await
    }
    async fn record_secret_check(
        &self,
        client_id: &ClientId,
        hash: &str,
        check: &str,
    ) -> Result<(), StoreError> {
        SqlStore::<DB>::record_secret_check(self, client_id, hash, check).await
    }
    async fn audit_key(
        &self,
        key: &ApiKey,
        action: AuditAction,
        reason: Option<&str>,
        target: Option<&str>,
        ctx: &WriteContext,
    ) -> Result<(), StoreError> {
        SqlStore::<DB>::audit_key(self, key, action, reason, target, ctx).await
    }
    async fn record_last_used(&self, uses: &[KeyUse]) -> Result<(), StoreError> {
        SqlStore::<DB>::record_last_used(self, uses).await
    }
    async fn revoke_token(
        &self,
        token: &TokenRevocation,
        ctx: &WriteContext,
    ) -> Result<bool, StoreError> {
        SqlStore::<DB>::revoke_token(self, token, ctx).await
    }
    async fn signing_keys(
        &self,
        environment: Option<&EnvironmentName>,
    ) -> Result<Vec<SigningKeyRecord>, StoreError> {
        SqlStore::<DB>::signing_keys(self, environment).await
    }
    async fn insert_signing_key(
        &self,
        key: &SigningKeyRecord,
        when: InsertWhen,
        ctx: &WriteContext,
    ) -> Result<Option<SigningKeyRecord>, StoreError> {
        SqlStore::<DB>::insert_signing_key(self, key, when, ctx).await
    }
    async fn rewrap_signing_keys(
        &self,
        rewrapped: &[(SigningKeyRecord, String)],
        ctx: &WriteContext,
    ) -> Result<usize, StoreError> {
        SqlStore::<DB>::rewrap_signing_keys(self, rewrapped, ctx).await
    }
    async fn scim_user(&self, id: &UserId) -> Result<Option<ScimUserRecord>, StoreError> {
        SqlStore::<DB>::scim_user(self, id).await
    }
    async fn scim_users(
        &self,
        query: &ScimQuery,
    ) -> Result<(Vec<ScimUserRecord>, i64), StoreError> {
        SqlStore::<DB>::scim_users(self, query).await
    }
    async fn scim_write(
        &self,
        write: &ScimWrite,
        ctx: &WriteContext,
    ) -> Result<ScimOutcome, StoreError> {
        SqlStore::<DB>::scim_write(self, write, ctx).await
    }
    async fn scim_delete(
        &self,
        id: &UserId,
        ctx: &WriteContext,
    ) -> Result<UserActivation, StoreError> {
        SqlStore::<DB>::scim_delete(self, id, ctx).await
    }
    async fn scim_group(
        &self,
        id: &str,
        members: bool,
    ) -> Result<Option<ScimGroupRecord>, StoreError> {
        SqlStore::<DB>::scim_group(self, id, members).await
    }
    async fn scim_groups(
        &self,
        query: &ScimQuery,
        members: bool,
    ) -> Result<(Vec<ScimGroupRecord>, i64), StoreError> {
        SqlStore::<DB>::scim_groups(self, query, members).await
    }
    async fn scim_group_write(
        &self,
        write: &ScimGroupWrite,
        ctx: &WriteContext,
    ) -> Result<ScimGroupRecord, StoreError> {
        SqlStore::<DB>::scim_group_write(self, write, ctx).await
    }
    async fn scim_group_delete(&self, id: &str, ctx: &WriteContext) -> Result<(), StoreError> {
        SqlStore::<DB>::scim_group_delete(self, id, ctx).await
    }
    async fn set_group_permissions(
        &self,
        name: &str,
        permissions: &crate::domain::Permissions,
        ctx: &WriteContext,
    ) -> Result<u64, StoreError> {
        SqlStore::<DB>::set_group_permissions(self, name, permissions, ctx).await
    }
    async fn group_mappings(&self) -> Result<Vec<GroupMapping>, StoreError> {
        SqlStore::<DB>::group_mappings(self).await
    }
    async fn create_console_link(
        &self,
        token_hash: &str,
        user: &UserId,
        expires_at: OffsetDateTime,
        ctx: &WriteContext,
    ) -> Result<(), StoreError> {
        SqlStore::<DB>::create_console_link(self, token_hash, user, expires_at, ctx).await
    }
    async fn redeem_console_link(
        &self,
        token_hash: &str,
        session: &NewConsoleSession,
        ctx: &WriteContext,
    ) -> Result<User, StoreError> {
        SqlStore::<DB>::redeem_console_link(self, token_hash, session, ctx).await
    }
    async fn create_console_session(
        &self,
        user: &UserId,
        session: &NewConsoleSession,
        ctx: &WriteContext,
    ) -> Result<User, StoreError> {
        SqlStore::<DB>::create_console_session(self, user, session, ctx).await
    }
    async fn begin_console_oidc(
        &self,
        login: &OidcLogin,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        SqlStore::<DB>::begin_console_oidc(self, login, now).await
    }
    async fn take_console_oidc(
        &self,
        state_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<OidcLogin>, StoreError> {
        SqlStore::<DB>::take_console_oidc(self, state_hash, now).await
    }
    async fn console_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
        idle: time::Duration,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        SqlStore::<DB>::console_session(self, token_hash, now, idle).await
    }
    async fn end_console_session(
        &self,
        token_hash: &str,
        ctx: &WriteContext,
    ) -> Result<(), StoreError> {
        SqlStore::<DB>::end_console_session(self, token_hash, ctx).await
    }
    async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        SqlStore::<DB>::is_revoked(self, jti).await
    }
    async fn unexpired_revocations(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<(String, OffsetDateTime)>, StoreError> {
        SqlStore::<DB>::unexpired_revocations(self, now).await
    }
    async fn count_audit(&self, query: &AuditQuery) -> Result<i64, StoreError> {
        SqlStore::<DB>::count_audit(self, query).await
    }
    async fn list_audit(&self, query: &AuditQuery) -> Result<(Vec<AuditEvent>, bool), StoreError> {
        SqlStore::<DB>::list_audit(self, query).await
    }
    async fn changes_since(&self, after: i64, limit: u32) -> Result<Vec<ChangeRecord>, StoreError> {
        SqlStore::<DB>::changes_since(self, after, limit).await
    }
    async fn latest_change(&self) -> Result<i64, StoreError> {
        SqlStore::<DB>::latest_change(self).await
    }
    async fn prune(&self, now: OffsetDateTime, keep: time::Duration) -> Result<(), StoreError> {
        SqlStore::<DB>::prune(self, now, keep).await
    }
    async fn record_public_url(
        &self,
        public_url: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        SqlStore::<DB>::record_public_url(self, public_url, now).await
    }
    async fn public_urls(&self, since: OffsetDateTime) -> Result<Vec<String>, StoreError> {
        SqlStore::<DB>::public_urls(self, since).await
    }
    async fn record_client_assertions(
        &self,
        batch: &[NewAssertion<'_>],
    ) -> Result<Vec<bool>, StoreError> {
        SqlStore::<DB>::record_client_assertions(self, batch).await
    }
    async fn warn_expiring(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<ApiKey>, StoreError> {
        SqlStore::<DB>::warn_expiring(self, now, until).await
    }
    async fn claim_events(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        SqlStore::<DB>::claim_events(self, now, lease_until, limit).await
    }
    async fn event_delivered(&self, id: &str) -> Result<(), StoreError> {
        SqlStore::<DB>::event_delivered(self, id).await
    }
    async fn event_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        SqlStore::<DB>::event_failed(self, id, error, next_attempt_at).await
    }
    async fn list_events(
        &self,
        set_aside_only: bool,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        SqlStore::<DB>::list_events(self, set_aside_only, limit).await
    }
    async fn status_snapshot(
        &self,
        environment: &EnvironmentName,
        scope: StatusScope<'_>,
    ) -> Result<StatusSnapshot, StoreError> {
        SqlStore::<DB>::status_snapshot(self, environment, scope).await
    }
    async fn outbox_state(&self) -> Result<OutboxState, StoreError> {
        SqlStore::<DB>::outbox_state(self).await
    }
    async fn retry_events(&self, id: Option<&str>, now: OffsetDateTime) -> Result<u64, StoreError> {
        SqlStore::<DB>::retry_events(self, id, now).await
    }
    async fn wakeups(&self) -> Option<tokio::sync::mpsc::Receiver<Wakeup>> {
        DB::wakeups(self)
    }
    fn poll_interval(&self) -> std::time::Duration {
        DB::POLL_INTERVAL
    }
}

//! The one implementation of [`crate::store::Store`] both backends share, as a macro over
//! the backend type: every method forwards to the generic `SqlStore<DB>` method of the
//! same name.

/// Implements [`crate::store::Store`] for `SqlStore<$db>` by forwarding every method to the
/// generic code (`next_table_event`, `backlog` and `start_wakeups` are the backend's
/// own). Calls name `SqlStore::<$db>` so that a method whose bounds do not hold is a
/// compile error, never a silent call of the trait method itself.
macro_rules! forward_store {
    ($db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $crate::store::sql::SqlStore<$db> {
            async fn migrate(&self) -> Result<(), StoreError> {
                <$db as $crate::store::sql::Backend>::migrate(&self.pool).await
            }
            async fn ping(&self) -> Result<(), StoreError> {
                $crate::store::sql::SqlStore::<$db>::ping(self).await
            }
            fn pool_usage(&self) -> PoolUsage {
                $crate::store::sql::SqlStore::<$db>::pool_usage(self)
            }
            async fn get_user(&self, id: &UserId) -> Result<User, StoreError> {
                $crate::store::sql::SqlStore::<$db>::get_user(self, id).await
            }
            async fn list_users(
                &self,
                query: &UserQuery,
            ) -> Result<(Vec<UserSummary>, bool), StoreError> {
                $crate::store::sql::SqlStore::<$db>::list_users(self, query).await
            }
            async fn apply_user_event(
                &self,
                event: &UserEvent,
                dedupe: &Dedupe,
                occurred_at: Option<OffsetDateTime>,
                ctx: &WriteContext,
            ) -> Result<EventOutcome, StoreError> {
                $crate::store::sql::SqlStore::<$db>::apply_user_event(
                    self,
                    event,
                    dedupe,
                    occurred_at,
                    ctx,
                )
                .await
            }
            async fn apply_next_table_event(
                &self,
                instance: &str,
                now: OffsetDateTime,
            ) -> Result<Option<TableEventOutcome>, StoreError> {
                $crate::store::sql::SqlStore::<$db>::next_table_event(self, instance, now).await
            }
            async fn table_event_backlog(
                &self,
            ) -> Result<(i64, Option<OffsetDateTime>), StoreError> {
                $crate::store::sql::SqlStore::<$db>::backlog(self).await
            }
            async fn create_key(
                &self,
                key: &NewApiKey,
                ctx: &WriteContext,
            ) -> Result<ApiKey, StoreError> {
                $crate::store::sql::SqlStore::<$db>::create_key(self, key, ctx).await
            }
            async fn get_key(&self, client_id: &ClientId) -> Result<ApiKey, StoreError> {
                $crate::store::sql::SqlStore::<$db>::get_key(self, client_id).await
            }
            async fn find_credentials(
                &self,
                client_id: &ClientId,
            ) -> Result<Option<KeyCredentials>, StoreError> {
                $crate::store::sql::SqlStore::<$db>::find_credentials(self, client_id).await
            }
            async fn list_keys(&self, query: &KeyQuery) -> Result<KeyPage, StoreError> {
                $crate::store::sql::SqlStore::<$db>::list_keys(self, query).await
            }
            async fn update_key(
                &self,
                client_id: &ClientId,
                update: &KeyUpdate,
                ctx: &WriteContext,
            ) -> Result<ApiKey, StoreError> {
                $crate::store::sql::SqlStore::<$db>::update_key(self, client_id, update, ctx).await
            }
            async fn delete_key(
                &self,
                client_id: &ClientId,
                expected_etag: Option<&str>,
                ctx: &WriteContext,
            ) -> Result<ApiKey, StoreError> {
                $crate::store::sql::SqlStore::<$db>::delete_key(self, client_id, expected_etag, ctx)
                    .await
            }
            async fn expire_keys(&self, now: OffsetDateTime) -> Result<Vec<ApiKey>, StoreError> {
                $crate::store::sql::SqlStore::<$db>::expire_keys(self, now).await
            }
            async fn record_secret_check(
                &self,
                client_id: &ClientId,
                hash: &str,
                check: &str,
            ) -> Result<(), StoreError> {
                $crate::store::sql::SqlStore::<$db>::record_secret_check(
                    self, client_id, hash, check,
                )
                .await
            }
            async fn record_last_used(
                &self,
                uses: &[(ClientId, OffsetDateTime)],
            ) -> Result<(), StoreError> {
                $crate::store::sql::SqlStore::<$db>::record_last_used(self, uses).await
            }
            async fn revoke_token(
                &self,
                token: &$crate::store::TokenRevocation,
                ctx: &WriteContext,
            ) -> Result<bool, StoreError> {
                $crate::store::sql::SqlStore::<$db>::revoke_token(self, token, ctx).await
            }
            async fn signing_keys(
                &self,
                environment: Option<&EnvironmentName>,
            ) -> Result<Vec<$crate::store::SigningKeyRecord>, StoreError> {
                $crate::store::sql::SqlStore::<$db>::signing_keys(self, environment).await
            }
            async fn insert_signing_key(
                &self,
                key: &$crate::store::SigningKeyRecord,
                when: $crate::store::InsertWhen,
                ctx: &WriteContext,
            ) -> Result<Option<$crate::store::SigningKeyRecord>, StoreError> {
                $crate::store::sql::SqlStore::<$db>::insert_signing_key(self, key, when, ctx).await
            }
            async fn rewrap_signing_keys(
                &self,
                rewrapped: &[($crate::store::SigningKeyRecord, String)],
                ctx: &WriteContext,
            ) -> Result<usize, StoreError> {
                $crate::store::sql::SqlStore::<$db>::rewrap_signing_keys(self, rewrapped, ctx).await
            }
            async fn scim_user(
                &self,
                id: &UserId,
            ) -> Result<Option<$crate::store::ScimUserRecord>, StoreError> {
                $crate::store::sql::SqlStore::<$db>::scim_user(self, id).await
            }
            async fn scim_users(
                &self,
                query: &$crate::store::ScimQuery,
            ) -> Result<(Vec<$crate::store::ScimUserRecord>, i64), StoreError> {
                $crate::store::sql::SqlStore::<$db>::scim_users(self, query).await
            }
            async fn scim_write(
                &self,
                write: &$crate::store::ScimWrite,
                ctx: &WriteContext,
            ) -> Result<$crate::store::ScimOutcome, StoreError> {
                $crate::store::sql::SqlStore::<$db>::scim_write(self, write, ctx).await
            }
            async fn scim_delete(
                &self,
                id: &UserId,
                ctx: &WriteContext,
            ) -> Result<$crate::store::UserActivation, StoreError> {
                $crate::store::sql::SqlStore::<$db>::scim_delete(self, id, ctx).await
            }
            async fn scim_group(
                &self,
                id: &str,
                members: bool,
            ) -> Result<Option<$crate::store::ScimGroupRecord>, StoreError> {
                $crate::store::sql::SqlStore::<$db>::scim_group(self, id, members).await
            }
            async fn scim_groups(
                &self,
                query: &$crate::store::ScimQuery,
                members: bool,
            ) -> Result<(Vec<$crate::store::ScimGroupRecord>, i64), StoreError> {
                $crate::store::sql::SqlStore::<$db>::scim_groups(self, query, members).await
            }
            async fn scim_group_write(
                &self,
                write: &$crate::store::ScimGroupWrite,
                ctx: &WriteContext,
            ) -> Result<$crate::store::ScimGroupRecord, StoreError> {
                $crate::store::sql::SqlStore::<$db>::scim_group_write(self, write, ctx).await
            }
            async fn scim_group_delete(
                &self,
                id: &str,
                ctx: &WriteContext,
            ) -> Result<(), StoreError> {
                $crate::store::sql::SqlStore::<$db>::scim_group_delete(self, id, ctx).await
            }
            async fn set_group_permissions(
                &self,
                name: &str,
                permissions: &$crate::domain::Permissions,
                ctx: &WriteContext,
            ) -> Result<u64, StoreError> {
                $crate::store::sql::SqlStore::<$db>::set_group_permissions(
                    self,
                    name,
                    permissions,
                    ctx,
                )
                .await
            }
            async fn group_mappings(&self) -> Result<Vec<$crate::store::GroupMapping>, StoreError> {
                $crate::store::sql::SqlStore::<$db>::group_mappings(self).await
            }
            async fn create_console_link(
                &self,
                token_hash: &str,
                user: &UserId,
                expires_at: OffsetDateTime,
                ctx: &WriteContext,
            ) -> Result<(), StoreError> {
                $crate::store::sql::SqlStore::<$db>::create_console_link(
                    self, token_hash, user, expires_at, ctx,
                )
                .await
            }
            async fn redeem_console_link(
                &self,
                token_hash: &str,
                session: &$crate::store::NewConsoleSession,
                ctx: &WriteContext,
            ) -> Result<User, StoreError> {
                $crate::store::sql::SqlStore::<$db>::redeem_console_link(
                    self, token_hash, session, ctx,
                )
                .await
            }
            async fn create_console_session(
                &self,
                user: &UserId,
                session: &$crate::store::NewConsoleSession,
                ctx: &WriteContext,
            ) -> Result<User, StoreError> {
                $crate::store::sql::SqlStore::<$db>::create_console_session(
                    self, user, session, ctx,
                )
                .await
            }
            async fn begin_console_oidc(
                &self,
                login: &$crate::store::OidcLogin,
                now: OffsetDateTime,
            ) -> Result<(), StoreError> {
                $crate::store::sql::SqlStore::<$db>::begin_console_oidc(self, login, now).await
            }
            async fn take_console_oidc(
                &self,
                state_hash: &str,
                now: OffsetDateTime,
            ) -> Result<Option<$crate::store::OidcLogin>, StoreError> {
                $crate::store::sql::SqlStore::<$db>::take_console_oidc(self, state_hash, now).await
            }
            async fn console_session(
                &self,
                token_hash: &str,
                now: OffsetDateTime,
                idle: time::Duration,
            ) -> Result<Option<$crate::store::ConsoleSession>, StoreError> {
                $crate::store::sql::SqlStore::<$db>::console_session(self, token_hash, now, idle)
                    .await
            }
            async fn end_console_session(
                &self,
                token_hash: &str,
                ctx: &WriteContext,
            ) -> Result<(), StoreError> {
                $crate::store::sql::SqlStore::<$db>::end_console_session(self, token_hash, ctx)
                    .await
            }
            async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
                $crate::store::sql::SqlStore::<$db>::is_revoked(self, jti).await
            }
            async fn unexpired_revocations(
                &self,
                now: OffsetDateTime,
            ) -> Result<Vec<(String, OffsetDateTime)>, StoreError> {
                $crate::store::sql::SqlStore::<$db>::unexpired_revocations(self, now).await
            }
            async fn count_audit(&self, query: &AuditQuery) -> Result<i64, StoreError> {
                $crate::store::sql::SqlStore::<$db>::count_audit(self, query).await
            }
            async fn list_audit(
                &self,
                query: &AuditQuery,
            ) -> Result<(Vec<AuditEvent>, bool), StoreError> {
                $crate::store::sql::SqlStore::<$db>::list_audit(self, query).await
            }
            async fn changes_since(
                &self,
                after: i64,
                limit: u32,
            ) -> Result<Vec<ChangeRecord>, StoreError> {
                $crate::store::sql::SqlStore::<$db>::changes_since(self, after, limit).await
            }
            async fn latest_change(&self) -> Result<i64, StoreError> {
                $crate::store::sql::SqlStore::<$db>::latest_change(self).await
            }
            async fn prune(
                &self,
                now: OffsetDateTime,
                keep: time::Duration,
            ) -> Result<(), StoreError> {
                $crate::store::sql::SqlStore::<$db>::prune(self, now, keep).await
            }
            async fn wakeups(&self) -> Option<tokio::sync::mpsc::Receiver<Wakeup>> {
                $crate::store::sql::SqlStore::<$db>::start_wakeups(self)
            }
            fn poll_interval(&self) -> std::time::Duration {
                <$db as $crate::store::sql::Backend>::POLL_INTERVAL
            }
        }
    };
}

pub(crate) use forward_store;

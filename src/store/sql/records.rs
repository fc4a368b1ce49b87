//! Users and their lifecycle events (upsert; deactivation, with every key of the user
//! disabled in the same transaction; reactivation; webhook deduplication), revocations,
//! and the reads of the audit trail and the change feed.

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

use super::super::rows::{AuditRow, ChangeRow, KeyRow, UserRow, UserSummaryRow};
use super::super::{
    AuditQuery, ChangeRecord, Dedupe, EventOutcome, StoreError, TokenRevocation, UserActivation,
    UserQuery, UserSummary, WriteContext,
};
use super::journal::AuditRecord;
use super::queries as q;
use super::{Backend, Journal, SqlStore, locked};
use crate::domain::lifecycle_event::user_deactivated;
use crate::domain::{
    ApiKey, AuditAction, AuditEvent, ChangeSource, DisabledReason, User, UserEvent, UserId,
};

// The bounds name the store's private row types and traits; only the store calls these.
#[allow(private_bounds)]
impl<DB> SqlStore<DB>
where
    DB: Backend,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<&'e str>: Encode<'e, DB> + Type<DB>,
    for<'e> bool: Encode<'e, DB> + Type<DB>,
    for<'e> OffsetDateTime: Encode<'e, DB> + Type<DB>,
    for<'e> Option<OffsetDateTime>: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'r> (Option<OffsetDateTime>,): FromRow<'r, DB::Row>,
    for<'r> UserRow: FromRow<'r, DB::Row>,
    for<'r> UserSummaryRow: FromRow<'r, DB::Row>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (Option<i64>,): FromRow<'r, DB::Row>,
    for<'r> KeyRow: FromRow<'r, DB::Row>,
    for<'r> AuditRow: FromRow<'r, DB::Row>,
    for<'r> ChangeRow: FromRow<'r, DB::Row>,
    Self: Journal<Db = DB>,
{
    pub(in crate::store) async fn get_user(&self, id: &UserId) -> Result<User, StoreError> {
        let row: UserRow = sqlx::query_as(q::USER_BY_ID)
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await?;
        row.try_into()
    }

    pub(in crate::store) async fn list_users(
        &self,
        query: &UserQuery,
    ) -> Result<(Vec<UserSummary>, bool), StoreError> {
        let rows: Vec<UserSummaryRow> = sqlx::query_as(q::LIST_USERS)
            .bind(query.id.as_ref().map(|id| id.as_str()))
            .bind(query.after.as_deref().unwrap_or(""))
            .bind(i64::from(query.limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let more = rows.len() > query.limit as usize;
        let users = rows
            .into_iter()
            .take(query.limit as usize)
            .map(TryInto::try_into);
        Ok((users.collect::<Result<_, _>>()?, more))
    }

    pub(in crate::store) async fn apply_user_event(
        &self,
        event: &UserEvent,
        dedupe: &Dedupe,
        occurred_at: Option<OffsetDateTime>,
        ctx: &WriteContext,
    ) -> Result<EventOutcome, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        if let Dedupe::WebhookId(id) = dedupe {
            let inserted = sqlx::query(q::INSERT_WEBHOOK_ID)
                .bind(id.as_str())
                .bind(ctx.now)
                .execute(&mut *tx)
                .await?;
            if DB::rows_affected(&inserted) == 0 {
                return Ok(EventOutcome::Duplicate);
            }
        }
        if let (Dedupe::NewUser, UserEvent::Upserted(user)) = (dedupe, event) {
            // The insert decides: a user that exists, or one another transaction is
            // inserting (PostgreSQL waits for it), leaves nothing inserted.
            let inserted = sqlx::query(q::INSERT_NEW_USER)
                .bind(user.id.as_str())
                .bind(user.email.as_deref())
                .bind(user.service_account)
                .bind(user.permissions.to_json())
                .bind(ctx.now)
                .execute(&mut *tx)
                .await?;
            if DB::rows_affected(&inserted) == 0 {
                return Ok(EventOutcome::Duplicate);
            }
        }
        let etag = self.etag();
        let applied = Self::apply_event_tx(&mut tx, event, occurred_at, ctx, &etag).await?;
        // A stale event still records its webhook id: a retry is a duplicate.
        tx.commit().await?;
        Ok(applied.map_or(EventOutcome::Stale, EventOutcome::Applied))
    }

    /// Applies a user event inside `conn`'s transaction; `None` when it is older than the
    /// last directory event applied for that user (see [`super::super::Store::apply_user_event`]).
    pub(in crate::store) async fn apply_event_tx(
        conn: &mut DB::Connection,
        event: &UserEvent,
        occurred_at: Option<OffsetDateTime>,
        ctx: &WriteContext,
        etag: &str,
    ) -> Result<Option<UserActivation>, StoreError> {
        let applied = Self::apply_event_rows(conn, event, occurred_at, ctx, etag).await?;
        if let Some(applied) = &applied {
            Self::changed(conn, ctx.now, &applied.changes()).await?;
        }
        Ok(applied)
    }

    /// The rows and audit entries of a user event, without its change-feed rows (the
    /// caller appends those last, see [`UserActivation::changes`]), so that one
    /// transaction can apply several events and take the change-feed lock once.
    pub(in crate::store) async fn apply_event_rows(
        conn: &mut DB::Connection,
        event: &UserEvent,
        occurred_at: Option<OffsetDateTime>,
        ctx: &WriteContext,
        etag: &str,
    ) -> Result<Option<UserActivation>, StoreError> {
        let id = event.user_id();
        if let Some(at) = occurred_at {
            // The user row is locked, so concurrent events of one user are ordered.
            let last: Option<Option<OffsetDateTime>> =
                sqlx::query_scalar(locked(q::USER_LAST_EVENT, DB::LOCK_UPDATE))
                    .bind(id.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
            if let Some(Some(last)) = last
                && at < last
            {
                return Ok(None);
            }
        }
        let active = matches!(event, UserEvent::Reactivated(_));
        let row: Option<UserRow> = match event {
            UserEvent::Upserted(user) => {
                sqlx::query_as(q::UPSERT_USER)
                    .bind(user.id.as_str())
                    .bind(user.email.as_deref())
                    .bind(user.service_account)
                    .bind(user.permissions.to_json())
                    .bind(ctx.now)
                    .fetch_optional(&mut *conn)
                    .await?
            }
            // The CLI names users that must exist; a typo must not create one. The
            // directory is the source of truth: a deactivation of a user Keymint has not
            // seen yet is remembered, so a later upsert cannot bring them in active.
            UserEvent::Deactivated(_) | UserEvent::Reactivated(_) => {
                let sql = if ctx.actor.source == ChangeSource::Cli {
                    q::SET_USER_ACTIVE
                } else {
                    q::UPSERT_USER_ACTIVE
                };
                sqlx::query_as(sql)
                    .bind(id.as_str())
                    .bind(active)
                    .bind(ctx.now)
                    .fetch_optional(&mut *conn)
                    .await?
            }
        };
        let user: User = row.ok_or(StoreError::NotFound)?.try_into()?;
        if let Some(at) = occurred_at {
            sqlx::query(q::SET_USER_LAST_EVENT)
                .bind(id.as_str())
                .bind(at)
                .execute(&mut *conn)
                .await?;
        }
        let mut disabled_keys = Vec::new();
        if let UserEvent::Deactivated(_) = event {
            // Console sessions end with the user (they are also refused while inactive).
            sqlx::query(super::console_queries::DELETE_SESSIONS_OF_USER)
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?;
            let rows: Vec<KeyRow> = sqlx::query_as(q::DISABLE_KEYS_OF_OWNER)
                .bind(id.as_str())
                .bind(etag)
                .bind(ctx.now)
                .fetch_all(&mut *conn)
                .await?;
            disabled_keys = rows
                .into_iter()
                .map(ApiKey::try_from)
                .collect::<Result<_, _>>()?;
        }
        let reason = DisabledReason::OwnerDeactivated.as_str();
        for key in &disabled_keys {
            let record = AuditRecord::key(AuditAction::KeyDisabled, key, Some(reason));
            Self::audit(conn, ctx, record).await?;
        }
        let action = match event {
            UserEvent::Upserted(_) => AuditAction::UserUpserted,
            UserEvent::Deactivated(_) => AuditAction::UserDeactivated,
            UserEvent::Reactivated(_) => AuditAction::UserReactivated,
        };
        Self::audit(conn, ctx, AuditRecord::user(action, id, None)).await?;
        if let UserEvent::Deactivated(_) = event {
            let event = user_deactivated(id, &disabled_keys, ctx.now);
            Self::outbox(conn, ctx.now, &event).await?;
        }
        Ok(Some(UserActivation {
            user,
            disabled_keys,
        }))
    }

    pub(in crate::store) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(in crate::store) async fn revoke_token(
        &self,
        token: &TokenRevocation,
        ctx: &WriteContext,
    ) -> Result<bool, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        let inserted = sqlx::query(q::REVOKE_TOKEN)
            .bind(token.jti.as_str())
            .bind(token.environment.as_str())
            .bind(ctx.actor.client_id.as_ref().map(|c| c.as_str()))
            .bind(ctx.now)
            .bind(token.expires_at)
            .execute(&mut *tx)
            .await?;
        let newly = DB::rows_affected(&inserted) > 0;
        if newly {
            let record = AuditRecord {
                action: AuditAction::TokenRevoked,
                environment: Some(token.environment.as_str()),
                client_id: token.client_id.as_ref().map(|c| c.as_str()),
                user_id: token.user_id.as_ref().map(|u| u.as_str()),
                reason: None,
                target: Some(token.jti.as_str()),
                key: None,
            };
            Self::audit(&mut tx, ctx, record).await?;
            // Every instance's introspection cache drops the token.
            Self::changed(&mut tx, ctx.now, &[("token", token.jti.as_str())]).await?;
        }
        tx.commit().await?;
        Ok(newly)
    }

    pub(in crate::store) async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let found: i64 = sqlx::query_scalar(q::IS_REVOKED)
            .bind(jti)
            .fetch_one(&self.pool)
            .await?;
        Ok(found > 0)
    }

    pub(in crate::store) async fn count_audit(
        &self,
        query: &AuditQuery,
    ) -> Result<i64, StoreError> {
        let count: i64 = sqlx::query_scalar(q::COUNT_AUDIT)
            .bind(0_i64)
            .bind(query.environment.as_deref())
            .bind(query.client_id.as_deref())
            .bind(query.user_id.as_deref())
            .fetch_one(&self.pool)
            .await?;
        Ok(count)
    }

    pub(in crate::store) async fn list_audit(
        &self,
        query: &AuditQuery,
    ) -> Result<(Vec<AuditEvent>, bool), StoreError> {
        let sql = if query.newest_first {
            q::LIST_AUDIT_NEWEST
        } else {
            q::LIST_AUDIT
        };
        let rows: Vec<AuditRow> = sqlx::query_as(sql)
            .bind(query.after.unwrap_or(0))
            .bind(query.environment.as_deref())
            .bind(query.client_id.as_deref())
            .bind(query.user_id.as_deref())
            .bind(i64::from(query.limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let more = rows.len() > query.limit as usize;
        let events = rows.into_iter().take(query.limit as usize).map(Into::into);
        Ok((events.collect(), more))
    }

    pub(in crate::store) async fn changes_since(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ChangeRecord>, StoreError> {
        let rows: Vec<ChangeRow> = sqlx::query_as(q::CHANGES_SINCE)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub(in crate::store) async fn latest_change(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar(q::LATEST_CHANGE)
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    pub(in crate::store) async fn prune(
        &self,
        now: OffsetDateTime,
        keep: time::Duration,
    ) -> Result<(), StoreError> {
        for sql in [q::PRUNE_CHANGES, q::PRUNE_WEBHOOK_IDS, q::PRUNE_REVOCATIONS] {
            sqlx::query(sql)
                .bind(now - keep)
                .execute(&self.pool)
                .await?;
        }
        // Each console row by its own expiry (a sign-in lives ten minutes, not an hour
        // more), so unauthenticated starts cannot pile up.
        for sql in [
            super::console_queries::PRUNE_LINKS,
            super::console_queries::PRUNE_SESSIONS,
            super::console_queries::PRUNE_OIDC_LOGINS,
            super::client_assertions::PRUNE,
        ] {
            sqlx::query(sql).bind(now).execute(&self.pool).await?;
        }
        // Events are kept 30 days past their delivery window: set aside ones to be
        // retried by hand, and those no instance delivered (events not configured).
        sqlx::query(super::key_events::PRUNE)
            .bind(now - time::Duration::days(30))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

// Its own block: its row bound would otherwise spread to every caller of the block above.
#[allow(private_bounds)]
impl<DB> SqlStore<DB>
where
    DB: Backend,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'e> OffsetDateTime: Encode<'e, DB> + Type<DB>,
    for<'r> (String, OffsetDateTime): FromRow<'r, DB::Row>,
{
    pub(in crate::store) async fn unexpired_revocations(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<(String, OffsetDateTime)>, StoreError> {
        Ok(sqlx::query_as(q::UNEXPIRED_REVOCATIONS)
            .bind(now)
            .fetch_all(&self.pool)
            .await?)
    }
}

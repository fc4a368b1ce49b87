//! API keys: create (freezing the owner's permissions), read, list, update under an etag
//! guard, delete, expire, and the bookkeeping of the token path (check tags, last use).

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

use super::super::rows::{CredentialsRow, KeyRow, UserRow};
use super::super::{KeyPage, KeyQuery, KeyUpdate, KeyUse, NewApiKey, StoreError, WriteContext};
use super::journal::AuditRecord;
use super::queries as q;
use super::{Backend, Journal, SqlStore, locked, status_lists};
use crate::domain::lifecycle_event::key_expiring;
use crate::domain::{
    Actor, ApiKey, AuditAction, ChangeSource, ClientId, KeyCredentials, UpdateRefused, User,
    frozen_permissions, plan_update,
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
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> OffsetDateTime: Encode<'e, DB> + Type<DB>,
    for<'e> Option<OffsetDateTime>: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'r> (String,): FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> UserRow: FromRow<'r, DB::Row>,
    for<'r> KeyRow: FromRow<'r, DB::Row>,
    for<'r> CredentialsRow: FromRow<'r, DB::Row>,
    Self: Journal<Db = DB>,
{
    pub(in crate::store) async fn create_key(
        &self,
        key: &NewApiKey,
        ctx: &WriteContext,
    ) -> Result<ApiKey, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        // The owner row is locked so a concurrent deactivation or permission change
        // either precedes this key (and is seen) or follows it.
        let owner: User = sqlx::query_as::<DB, UserRow>(locked(q::USER_BY_ID, DB::LOCK_SHARE))
            .bind(key.owner_id.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_into()?;
        if !owner.active {
            return Err(StoreError::OwnerInactive);
        }
        let permissions = frozen_permissions(&owner.permissions, key.requested.as_ref())
            .map_err(StoreError::NotHeld)?;
        let federation = key.auth.federation_json();
        let allowed_ips = key.allowed_ips.to_stored();
        let status_index = status_lists::allocate::<DB>(&mut tx, &key.environment).await?;
        let row: KeyRow = sqlx::query_as(q::INSERT_KEY)
            .bind(key.id.as_str())
            .bind(key.client_id.as_str())
            .bind(key.secret.hash.as_str())
            .bind(key.environment.as_str())
            .bind(key.owner_id.as_str())
            .bind(permissions.to_json())
            .bind(key.name.as_deref())
            .bind(key.expires_at)
            .bind(self.etag())
            .bind(ctx.now)
            .bind(key.secret.check.as_deref())
            .bind(key.secret_hint.as_deref())
            .bind(key.auth.stored_name())
            .bind(key.auth.jwks_uri())
            .bind(key.auth.jwks())
            .bind(federation.as_deref())
            .bind(allowed_ips.as_deref())
            .bind(status_index)
            .fetch_one(&mut *tx)
            .await?;
        let created: ApiKey = row.try_into()?;
        let note = created.auth.audit_note();
        Self::keys_changed(
            &mut tx,
            ctx,
            AuditAction::KeyCreated,
            std::slice::from_ref(&created),
            note.as_deref(),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    pub(in crate::store) async fn get_key(
        &self,
        client_id: &ClientId,
    ) -> Result<ApiKey, StoreError> {
        let row: KeyRow = sqlx::query_as(q::KEY_BY_CLIENT_ID)
            .bind(client_id.as_str())
            .fetch_one(&self.pool)
            .await?;
        row.try_into()
    }

    pub(in crate::store) async fn find_credentials(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<KeyCredentials>, StoreError> {
        let row: Option<CredentialsRow> = sqlx::query_as(q::CREDENTIALS_BY_CLIENT_ID)
            .bind(client_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    pub(in crate::store) async fn list_keys(
        &self,
        query: &KeyQuery,
    ) -> Result<KeyPage, StoreError> {
        let owner = query.owner.as_ref().map(|o| o.as_str());
        let rows: Vec<KeyRow> = sqlx::query_as(q::LIST_KEYS)
            .bind(query.environment.as_str())
            .bind(owner)
            .bind(query.after.unwrap_or(0))
            .bind(i64::from(query.limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let total_count: i64 = sqlx::query_scalar(q::COUNT_KEYS)
            .bind(query.environment.as_str())
            .bind(owner)
            .fetch_one(&self.pool)
            .await?;
        let has_next_page = rows.len() > query.limit as usize;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows.into_iter().take(query.limit as usize) {
            entries.push((row.seq, row.try_into()?));
        }
        Ok(KeyPage {
            entries,
            has_next_page,
            total_count,
        })
    }

    pub(in crate::store) async fn update_key(
        &self,
        client_id: &ClientId,
        update: &KeyUpdate,
        ctx: &WriteContext,
    ) -> Result<ApiKey, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        let current: KeyCredentials = sqlx::query_as::<DB, CredentialsRow>(locked(
            q::CREDENTIALS_BY_CLIENT_ID,
            DB::LOCK_UPDATE,
        ))
        .bind(client_id.as_str())
        .fetch_one(&mut *tx)
        .await?
        .try_into()?;
        if update
            .expected_etag
            .as_ref()
            .is_some_and(|e| *e != current.key.etag)
        {
            return Err(StoreError::Conflict);
        }
        let plan = plan_update(
            &current,
            update.activation,
            update.secret.as_ref(),
            &update.edit,
            ctx.now,
        )
        .map_err(|refused| match refused {
            UpdateRefused::OwnerInactive => StoreError::OwnerInactive,
            UpdateRefused::Expired => StoreError::Expired,
            UpdateRefused::NoSecret => StoreError::WrongAuthMethod(
                "this key has no secret (its clients sign with their own keys): regenerateSecret does not apply; replace its keys instead",
            ),
            UpdateRefused::NotClientKeys => StoreError::WrongAuthMethod(
                "only a key whose clients sign with their own keys has public keys to replace (a key never changes how it authenticates)",
            ),
        })?;
        let previous = plan.previous_secret.as_ref();
        let allowed_ips = plan.allowed_ips.to_stored();
        // A new secret takes a new status index; the old one stays the previous secret's
        // for its grace period, and without one its tokens' bit is set at once.
        let (status_index, previous_index) = if update.secret.is_some() {
            let fresh = status_lists::allocate::<DB>(&mut tx, &current.key.environment).await?;
            let kept = previous.map(|_| i64::from(current.key.status_index));
            (fresh, kept)
        } else {
            let kept = current.previous_status_index.map(i64::from);
            (i64::from(current.key.status_index), kept)
        };
        let row: Option<KeyRow> = sqlx::query_as(q::UPDATE_KEY)
            .bind(client_id.as_str())
            .bind(plan.enabled)
            .bind(plan.disabled_reason.map(|r| r.as_str()))
            .bind(plan.secret.hash.as_str())
            .bind(self.etag())
            .bind(ctx.now)
            .bind(current.key.etag.as_str())
            .bind(previous.map(|(s, _)| s.hash.as_str()))
            .bind(previous.map(|(_, until)| *until))
            .bind(plan.secret.check.as_deref())
            .bind(previous.and_then(|(s, _)| s.check.as_deref()))
            .bind(plan.name.as_deref())
            .bind(plan.expires_at)
            .bind(update.secret.as_ref().map(|s| s.hint.as_str()))
            .bind(plan.auth.jwks_uri())
            .bind(plan.auth.jwks())
            .bind(allowed_ips.as_deref())
            .bind(status_index)
            .bind(previous_index)
            .fetch_optional(&mut *tx)
            .await?;
        let key: ApiKey = row.ok_or(StoreError::Conflict)?.try_into()?;
        for (action, reason) in plan.actions {
            Self::audit(
                &mut tx,
                ctx,
                AuditRecord::key(action, &key, reason.as_deref()),
            )
            .await?;
        }
        Self::changed(&mut tx, ctx.now, &[("key", key.client_id.as_str())]).await?;
        tx.commit().await?;
        Ok(key)
    }

    pub(in crate::store) async fn delete_key(
        &self,
        client_id: &ClientId,
        expected_etag: Option<&str>,
        ctx: &WriteContext,
    ) -> Result<ApiKey, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        let etag: String = sqlx::query_scalar(locked(q::KEY_ETAG, DB::LOCK_UPDATE))
            .bind(client_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if expected_etag.is_some_and(|e| e != etag) {
            return Err(StoreError::Conflict);
        }
        let row: Option<KeyRow> = sqlx::query_as(q::DELETE_KEY)
            .bind(client_id.as_str())
            .bind(etag.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let key: ApiKey = row.ok_or(StoreError::Conflict)?.try_into()?;
        Self::keys_changed(
            &mut tx,
            ctx,
            AuditAction::KeyDeleted,
            std::slice::from_ref(&key),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(key)
    }

    /// `key.expiring` for every key expiring by `until` not warned about yet, once.
    pub(in crate::store) async fn warn_expiring(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<ApiKey>, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        let rows: Vec<KeyRow> = sqlx::query_as(q::WARN_EXPIRING)
            .bind(now)
            .bind(until)
            .fetch_all(&mut *tx)
            .await?;
        let keys: Vec<ApiKey> = rows
            .into_iter()
            .map(ApiKey::try_from)
            .collect::<Result<_, _>>()?;
        for key in &keys {
            Self::outbox(&mut tx, now, &key_expiring(key, now)).await?;
        }
        tx.commit().await?;
        Ok(keys)
    }

    pub(in crate::store) async fn expire_keys(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<ApiKey>, StoreError> {
        // Most sweeps find nothing: answer those without a write transaction (or an etag).
        let due: i64 = sqlx::query_scalar(q::COUNT_DUE_TO_EXPIRE)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        if due == 0 {
            return Ok(Vec::new());
        }
        let mut tx = DB::begin_write(&self.pool).await?;
        let rows: Vec<KeyRow> = sqlx::query_as(q::EXPIRE_KEYS)
            .bind(now)
            .bind(self.etag())
            .fetch_all(&mut *tx)
            .await?;
        let ctx = WriteContext {
            now,
            actor: Actor::system(ChangeSource::Expiry),
            request_id: None,
        };
        let expired = rows
            .into_iter()
            .map(ApiKey::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Self::keys_changed(
            &mut tx,
            &ctx,
            AuditAction::KeyExpired,
            &expired,
            Some("expired"),
        )
        .await?;
        tx.commit().await?;
        Ok(expired)
    }

    pub(in crate::store) async fn record_secret_check(
        &self,
        client_id: &ClientId,
        hash: &str,
        check: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(q::RECORD_SECRET_CHECK)
            .bind(client_id.as_str())
            .bind(hash)
            .bind(check)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Appends an audit entry about `key` that is not a change of it (a refused address).
    pub(in crate::store) async fn audit_key(
        &self,
        key: &ApiKey,
        action: AuditAction,
        reason: Option<&str>,
        target: Option<&str>,
        ctx: &WriteContext,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let record = AuditRecord {
            target,
            ..AuditRecord::key(action, key, reason)
        };
        Self::audit(&mut conn, ctx, record).await?;
        Ok(())
    }

    pub(in crate::store) async fn record_last_used(
        &self,
        uses: &[KeyUse],
    ) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        // Not a change of the key: no etag, audit or change-feed entry.
        let mut tx = DB::begin_write(&self.pool).await?;
        for used in uses {
            let ip = used.ip.map(|ip| ip.to_string());
            sqlx::query(q::RECORD_LAST_USED)
                .bind(used.client_id.as_str())
                .bind(used.at)
                .bind(ip.as_deref())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

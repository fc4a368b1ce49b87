//! Signing keys: sealed rows, inserted under a lock so that of instances racing to create
//! or rotate one, exactly one does; each insert audited and announced on the change feed.

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

use super::super::rows::SigningKeyRow;
use super::super::{InsertWhen, SigningKeyRecord, StoreError, WriteContext};
use super::journal::AuditRecord;
use super::queries as q;
use super::{Backend, Journal, SqlStore};
use crate::domain::{AuditAction, EnvironmentName};

/// The change-feed kind of a signing-key change; the subject is the environment.
pub const CHANGE_KIND: &str = "signing_key";

// The bounds name the store's private row types and traits; only the store calls these.
#[allow(private_bounds)]
impl<DB> SqlStore<DB>
where
    DB: Backend,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<&'e str>: Encode<'e, DB> + Type<DB>,
    for<'e> &'e [u8]: Encode<'e, DB> + Type<DB>,
    for<'e> OffsetDateTime: Encode<'e, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (OffsetDateTime, String): FromRow<'r, DB::Row>,
    for<'r> SigningKeyRow: FromRow<'r, DB::Row>,
    Self: Journal<Db = DB>,
{
    pub(in crate::store) async fn signing_keys(
        &self,
        environment: Option<&EnvironmentName>,
    ) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows: Vec<SigningKeyRow> = sqlx::query_as(q::LIST_SIGNING_KEYS)
            .bind(environment.map(|e| e.as_str()))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    pub(in crate::store) async fn insert_signing_key(
        &self,
        key: &SigningKeyRecord,
        when: InsertWhen,
        ctx: &WriteContext,
    ) -> Result<Option<SigningKeyRecord>, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        if let Some(lock) = DB::SIGNING_KEYS_LOCK {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        let newest: Option<(OffsetDateTime, String)> = sqlx::query_as(q::NEWEST_SIGNING_KEY)
            .bind(key.environment.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let insert = match when {
            InsertWhen::Always => true,
            InsertWhen::Missing => newest.as_ref().is_none_or(|(_, alg)| *alg != key.alg),
            InsertWhen::NewestBefore(at) => newest.as_ref().is_none_or(|(c, _)| *c < at),
            InsertWhen::Import => {
                let (found,): (i64,) = sqlx::query_as(q::COUNT_SIGNING_KEY)
                    .bind(key.kid.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                found == 0
            }
        };
        if !insert {
            return Ok(None);
        }
        let mut stored = key.clone();
        if when != InsertWhen::Import {
            // Creation times order the keys, so they must be distinct: a key made within
            // the same second as the newest is dated a second later.
            let at = ctx.now.replace_nanosecond(0).unwrap_or(ctx.now);
            stored.created_at = match &newest {
                Some((c, _)) if *c >= at => *c + time::Duration::seconds(1),
                _ => at,
            };
        }
        sqlx::query(q::INSERT_SIGNING_KEY)
            .bind(stored.kid.as_str())
            .bind(stored.environment.as_str())
            .bind(stored.alg.as_str())
            .bind(stored.created_at)
            .bind(stored.encryption_key_id.as_str())
            .bind(stored.nonce.as_slice())
            .bind(stored.ciphertext.as_slice())
            .execute(&mut *tx)
            .await?;
        let record = AuditRecord {
            action: AuditAction::SigningKeyCreated,
            environment: Some(stored.environment.as_str()),
            client_id: None,
            user_id: None,
            reason: match when {
                InsertWhen::Always => None,
                InsertWhen::Missing => Some("missing"),
                InsertWhen::NewestBefore(_) => Some("scheduled"),
                InsertWhen::Import => Some("imported"),
            },
            target: Some(stored.kid.as_str()),
            key: None,
        };
        Self::audit(&mut tx, ctx, record).await?;
        Self::changed(
            &mut tx,
            ctx.now,
            &[(CHANGE_KIND, stored.environment.as_str())],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(stored))
    }

    pub(in crate::store) async fn rewrap_signing_keys(
        &self,
        rewrapped: &[(SigningKeyRecord, String)],
        ctx: &WriteContext,
    ) -> Result<usize, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        if let Some(lock) = DB::SIGNING_KEYS_LOCK {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        let mut changed = 0;
        for (key, previous_key_id) in rewrapped {
            let done = sqlx::query(q::REWRAP_SIGNING_KEY)
                .bind(key.kid.as_str())
                .bind(key.encryption_key_id.as_str())
                .bind(key.nonce.as_slice())
                .bind(key.ciphertext.as_slice())
                .bind(previous_key_id.as_str())
                .execute(&mut *tx)
                .await?;
            if DB::rows_affected(&done) == 0 {
                // Rewrapped or deleted meanwhile: read again and retry.
                return Err(StoreError::Conflict);
            }
            changed += 1;
            let record = AuditRecord {
                action: AuditAction::SigningKeyRewrapped,
                environment: Some(key.environment.as_str()),
                client_id: None,
                user_id: None,
                reason: None,
                target: Some(key.kid.as_str()),
                key: None,
            };
            Self::audit(&mut tx, ctx, record).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}

//! SCIM-provisioned users: the stored resource and, in the same transaction, its effect on
//! the Keymint user (upsert; deactivation with every key disabled; reactivation). Locks are
//! taken in the order every writer uses: (groups lock,) user row, SCIM row, key rows,
//! change-feed lock.

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

use super::super::rows::{
    AuditRow, ChangeRow, GroupMappingRow, KeyRow, ScimGroupRow, ScimUserRow, UserRow,
    UserSummaryRow,
};
use super::super::{
    ScimOutcome, ScimQuery, ScimUserRecord, ScimWrite, StoreError, UserActivation, WriteContext,
};
use super::queries as q;
use super::{Backend, Journal, SqlStore, locked};
use crate::domain::{UserEvent, UserId};

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
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> OffsetDateTime: Encode<'e, DB> + Type<DB>,
    for<'e> Option<OffsetDateTime>: Encode<'e, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (Option<i64>,): FromRow<'r, DB::Row>,
    for<'r> (Option<OffsetDateTime>,): FromRow<'r, DB::Row>,
    for<'r> UserRow: FromRow<'r, DB::Row>,
    for<'r> UserSummaryRow: FromRow<'r, DB::Row>,
    for<'r> KeyRow: FromRow<'r, DB::Row>,
    for<'r> AuditRow: FromRow<'r, DB::Row>,
    for<'r> ChangeRow: FromRow<'r, DB::Row>,
    for<'r> ScimUserRow: FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
    for<'r> (i64, String, String): FromRow<'r, DB::Row>,
    for<'r> ScimGroupRow: FromRow<'r, DB::Row>,
    for<'r> GroupMappingRow: FromRow<'r, DB::Row>,
    Self: Journal<Db = DB>,
{
    pub(in crate::store) async fn scim_user(
        &self,
        id: &UserId,
    ) -> Result<Option<ScimUserRecord>, StoreError> {
        let row: Option<ScimUserRow> = sqlx::query_as(q::SCIM_USER)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    pub(in crate::store) async fn scim_users(
        &self,
        query: &ScimQuery,
    ) -> Result<(Vec<ScimUserRecord>, i64), StoreError> {
        let condition = query.condition.as_deref().unwrap_or("1 = 1");
        // The condition comes from the SCIM filter translation: whitelisted column names
        // and numbered placeholders only; every value is bound below.
        let list = sqlx::AssertSqlSafe(q::LIST_SCIM_USERS.replace("{condition}", condition));
        let count = sqlx::AssertSqlSafe(q::COUNT_SCIM_USERS.replace("{condition}", condition));
        let mut rows = sqlx::query_as::<DB, ScimUserRow>(list)
            .bind(query.limit)
            .bind(query.offset);
        let mut total = sqlx::query_as::<DB, (i64,)>(count).bind(0_i64).bind(0_i64);
        for value in &query.params {
            rows = rows.bind(value.clone());
            total = total.bind(value.clone());
        }
        let records = rows
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<_, _>>()?;
        let (total,) = total.fetch_one(&self.pool).await?;
        Ok((records, total))
    }

    pub(in crate::store) async fn scim_write(
        &self,
        write: &ScimWrite,
        ctx: &WriteContext,
    ) -> Result<ScimOutcome, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        let id = &write.upsert.id;
        let etag = self.etag();
        let mut effects = Vec::new();
        // The user row first (created or updated), as every writer locks it first.
        let upserted = Self::apply_event_rows(
            &mut tx,
            &UserEvent::Upserted(write.upsert.clone()),
            None,
            ctx,
            &etag,
        )
        .await?
        .ok_or(StoreError::Conflict)?;
        let was_active = upserted.user.active;
        effects.push(upserted);
        let user_name_key = write.user_name.to_lowercase();
        let display_name_key = write.display_name.as_deref().map(str::to_lowercase);
        let resource = write.resource.to_string();
        // The SCIM row: a create finds none, a replace finds one at the version it read.
        let current: Option<(i64,)> = sqlx::query_as(locked(q::SCIM_USER_VERSION, DB::LOCK_UPDATE))
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let statement = match (write.create, current) {
            (true, Some(_)) => return Err(StoreError::Conflict),
            (true, None) => q::INSERT_SCIM_USER,
            (false, None) => return Err(StoreError::NotFound),
            (false, Some((version,))) if write.expected_version.is_some_and(|v| v != version) => {
                return Err(StoreError::Stale);
            }
            (false, Some(_)) => q::UPDATE_SCIM_USER,
        };
        // Both statements take the same parameters.
        let row: Option<ScimUserRow> = sqlx::query_as(statement)
            .bind(id.as_str())
            .bind(write.user_name.as_str())
            .bind(user_name_key.as_str())
            .bind(write.external_id.as_deref())
            .bind(display_name_key.as_deref())
            .bind(resource.as_str())
            .bind(ctx.now)
            .fetch_optional(&mut *tx)
            .await?;
        let record: ScimUserRecord = row.ok_or(StoreError::NotFound)?.try_into()?;
        let activation = match (was_active, write.active) {
            (true, false) => Some(UserEvent::Deactivated(id.clone())),
            (false, true) => Some(UserEvent::Reactivated(id.clone())),
            _ => None,
        };
        if let Some(event) = activation
            && let Some(applied) = Self::apply_event_rows(&mut tx, &event, None, ctx, &etag).await?
        {
            effects.push(applied);
        }
        Self::changed(&mut tx, ctx.now, &changes_of(&effects)).await?;
        tx.commit().await?;
        Ok(ScimOutcome { record, effects })
    }

    pub(in crate::store) async fn scim_delete(
        &self,
        id: &UserId,
        ctx: &WriteContext,
    ) -> Result<UserActivation, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        // The user leaves its groups: the groups lock comes before any row lock.
        Self::lock_groups(&mut tx).await?;
        // The user row first, as every writer locks it first.
        let _: Option<(Option<OffsetDateTime>,)> =
            sqlx::query_as(locked(q::USER_LAST_EVENT, DB::LOCK_UPDATE))
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let deleted = sqlx::query(q::DELETE_SCIM_USER)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if DB::rows_affected(&deleted) == 0 {
            return Err(StoreError::NotFound);
        }
        Self::leave_groups(&mut tx, id, ctx).await?;
        let etag = self.etag();
        let applied = Self::apply_event_rows(
            &mut tx,
            &UserEvent::Deactivated(id.clone()),
            None,
            ctx,
            &etag,
        )
        .await?
        .ok_or(StoreError::NotFound)?;
        Self::changed(&mut tx, ctx.now, &applied.changes()).await?;
        tx.commit().await?;
        Ok(applied)
    }
}

fn changes_of(effects: &[UserActivation]) -> Vec<(&'static str, &str)> {
    let mut changes: Vec<(&'static str, &str)> = Vec::new();
    for change in effects.iter().flat_map(UserActivation::changes) {
        if !changes.contains(&change) {
            changes.push(change);
        }
    }
    changes
}

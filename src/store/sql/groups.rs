//! SCIM groups, their members, and the permissions ops map to group names. A user's
//! `group_permissions` is the union of the mapped permissions of its groups; every write
//! that can change it (membership, a group's name, a mapping, a group's delete) takes
//! the groups lock first and recomputes it for exactly the users concerned, in its own
//! transaction. Groups without a mapping cost no recomputation at all.

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use std::collections::BTreeSet;
use time::OffsetDateTime;

use super::super::rows::{GroupMappingRow, ScimGroupRow};
use super::super::{
    GroupMapping, ScimGroupRecord, ScimGroupWrite, ScimQuery, StoreError, WriteContext,
};
use super::group_members::corrupt_member;
use super::group_queries as gq;
use super::journal::AuditRecord;
use super::{Backend, Journal, SqlStore, locked};
use crate::domain::{AuditAction, Permissions, UserId};

// The bounds name the store's private row types and traits; only the store calls these.
#[allow(private_bounds)]
impl<DB> SqlStore<DB>
where
    DB: Backend,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<&'e str>: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> OffsetDateTime: Encode<'e, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
    for<'r> (i64, String, String): FromRow<'r, DB::Row>,
    for<'r> ScimGroupRow: FromRow<'r, DB::Row>,
    for<'r> GroupMappingRow: FromRow<'r, DB::Row>,
    Self: Journal<Db = DB>,
{
    pub(in crate::store) async fn scim_group(
        &self,
        id: &str,
        members: bool,
    ) -> Result<Option<ScimGroupRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let row: Option<ScimGroupRow> = sqlx::query_as(gq::GROUP)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut record: ScimGroupRecord = row.try_into()?;
        if members {
            record.members = Self::members_of(&mut conn, id).await?;
        }
        Ok(Some(record))
    }

    pub(in crate::store) async fn scim_groups(
        &self,
        query: &ScimQuery,
        members: bool,
    ) -> Result<(Vec<ScimGroupRecord>, i64), StoreError> {
        let condition = query.condition.as_deref().unwrap_or("1 = 1");
        // The condition comes from the SCIM filter translation: whitelisted columns and
        // numbered placeholders only; every value is bound below.
        let list = sqlx::AssertSqlSafe(gq::LIST_GROUPS.replace("{condition}", condition));
        let count = sqlx::AssertSqlSafe(gq::COUNT_GROUPS.replace("{condition}", condition));
        let mut rows = sqlx::query_as::<DB, ScimGroupRow>(list)
            .bind(query.limit)
            .bind(query.offset);
        let mut total = sqlx::query_as::<DB, (i64,)>(count).bind(0_i64).bind(0_i64);
        for value in &query.params {
            rows = rows.bind(value.clone());
            total = total.bind(value.clone());
        }
        let mut conn = self.pool.acquire().await?;
        let mut records: Vec<ScimGroupRecord> = rows
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<_, _>>()?;
        if members {
            for record in &mut records {
                record.members = Self::members_of(&mut conn, &record.id).await?;
            }
        }
        let (total,) = total.fetch_one(&mut *conn).await?;
        Ok((records, total))
    }

    pub(in crate::store) async fn scim_group_write(
        &self,
        write: &ScimGroupWrite,
        ctx: &WriteContext,
    ) -> Result<ScimGroupRecord, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        Self::lock_groups(&mut tx).await?;
        let id = write.id.as_str();
        let current: Option<(i64, String, String)> =
            sqlx::query_as(locked(gq::GROUP_VERSION, DB::LOCK_UPDATE))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let (statement, old_name, old_resource) = match (write.create, current) {
            (true, Some(_)) => return Err(StoreError::Conflict),
            (true, None) => (gq::INSERT_GROUP, None, None),
            (false, None) => return Err(StoreError::NotFound),
            (false, Some((version, ..)))
                if write.expected_version.is_some_and(|v| v != version) =>
            {
                return Err(StoreError::Stale);
            }
            (false, Some((_, name, resource))) => (gq::UPDATE_GROUP, Some(name), Some(resource)),
        };
        let joining = write
            .members
            .replace
            .iter()
            .flatten()
            .chain(&write.members.add);
        Self::check_users(&mut tx, joining).await?;
        let name_key = write.display_name.to_lowercase();
        let resource = write.resource.to_string();
        let row: ScimGroupRow = sqlx::query_as(statement)
            .bind(id)
            .bind(write.display_name.as_str())
            .bind(name_key.as_str())
            .bind(write.external_id.as_deref())
            .bind(resource.as_str())
            .bind(ctx.now)
            .fetch_one(&mut *tx)
            .await?;
        let record: ScimGroupRecord = row.try_into()?;
        let name = record.display_name.as_str();
        let (added, removed) = Self::change_members(&mut tx, id, write).await?;
        // A change of members alone is audited per member, not as a group update.
        let attributes_changed = old_resource
            .and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
            .is_none_or(|old| old != write.resource);
        if attributes_changed {
            let action = if write.create {
                AuditAction::GroupCreated
            } else {
                AuditAction::GroupUpdated
            };
            Self::audit(&mut tx, ctx, AuditRecord::about(action, name, None)).await?;
        }
        for (users, action) in [
            (&added, AuditAction::UserGroupAdded),
            (&removed, AuditAction::UserGroupRemoved),
        ] {
            for user in users {
                let mut record = AuditRecord::user(action, user, None);
                record.target = Some(name);
                Self::audit(&mut tx, ctx, record).await?;
            }
        }
        // Whose permissions can change: with a new name, every member (the mapping that
        // applies is another); else those who joined or left, if the name is mapped.
        let old_key = old_name.as_deref().map(str::to_lowercase);
        let renamed = old_key.as_ref().is_some_and(|k| *k != name_key);
        let mut concerned: BTreeSet<UserId> = BTreeSet::new();
        if renamed
            && (Self::is_mapped(&mut tx, &name_key).await?
                || Self::is_mapped(&mut tx, old_key.as_deref().unwrap_or_default()).await?)
        {
            concerned.extend(Self::members_of(&mut tx, id).await?);
            concerned.extend(removed);
        } else if Self::is_mapped(&mut tx, &name_key).await? {
            concerned.extend(added);
            concerned.extend(removed);
        }
        for user in &concerned {
            Self::recompute(&mut tx, user, ctx.now).await?;
        }
        tx.commit().await?;
        Ok(record)
    }

    pub(in crate::store) async fn scim_group_delete(
        &self,
        id: &str,
        ctx: &WriteContext,
    ) -> Result<(), StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        Self::lock_groups(&mut tx).await?;
        let current: Option<(i64, String, String)> =
            sqlx::query_as(locked(gq::GROUP_VERSION, DB::LOCK_UPDATE))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let (_, name, _) = current.ok_or(StoreError::NotFound)?;
        let members = Self::members_of(&mut tx, id).await?;
        // Members go with the group (ON DELETE CASCADE).
        sqlx::query(gq::DELETE_GROUP)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let record = AuditRecord::about(AuditAction::GroupDeleted, &name, None);
        Self::audit(&mut tx, ctx, record).await?;
        for user in &members {
            let mut record = AuditRecord::user(AuditAction::UserGroupRemoved, user, None);
            record.target = Some(&name);
            Self::audit(&mut tx, ctx, record).await?;
        }
        if Self::is_mapped(&mut tx, &name.to_lowercase()).await? {
            for user in &members {
                Self::recompute(&mut tx, user, ctx.now).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub(in crate::store) async fn set_group_permissions(
        &self,
        name: &str,
        permissions: &Permissions,
        ctx: &WriteContext,
    ) -> Result<u64, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        Self::lock_groups(&mut tx).await?;
        let name_key = name.to_lowercase();
        if permissions.is_empty() {
            sqlx::query(gq::DELETE_MAPPING)
                .bind(name_key.as_str())
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(gq::UPSERT_MAPPING)
                .bind(name_key.as_str())
                .bind(name)
                .bind(permissions.to_json())
                .bind(ctx.now)
                .execute(&mut *tx)
                .await?;
        }
        let scope = permissions.to_scope();
        let reason = (!scope.is_empty()).then_some(scope.as_str());
        let record = AuditRecord::about(AuditAction::GroupPermissionsSet, name, reason);
        Self::audit(&mut tx, ctx, record).await?;
        let members: Vec<(String,)> = sqlx::query_as(gq::MEMBERS_OF_NAME)
            .bind(name_key.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let mut changed = 0;
        for (user,) in &members {
            let user = UserId::parse(user).ok_or_else(corrupt_member)?;
            changed += u64::from(Self::recompute(&mut tx, &user, ctx.now).await?);
        }
        tx.commit().await?;
        Ok(changed)
    }

    pub(in crate::store) async fn group_mappings(&self) -> Result<Vec<GroupMapping>, StoreError> {
        let rows: Vec<GroupMappingRow> = sqlx::query_as(gq::MAPPINGS).fetch_all(&self.pool).await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}

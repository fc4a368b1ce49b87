//! How group membership turns into permissions: a user's `group_permissions` recomputed
//! from its groups' mappings, members added and removed one statement each, members
//! checked to be users, and the groups lock every such writer takes first.

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use std::collections::BTreeSet;
use time::OffsetDateTime;

use super::super::rows::{GroupMappingRow, ScimGroupRow};
use super::super::{ScimGroupWrite, StoreError, WriteContext};
use super::group_queries as gq;
use super::journal::AuditRecord;
use super::{Backend, Journal, SqlStore};
use crate::domain::{AuditAction, Permissions, UserId};

/// Ids bound per `IN (...)` when checking that members exist.
const CHUNK: usize = 500;

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
    /// Takes `user` out of every group (a SCIM user's delete): audited, and its group
    /// permissions emptied. The caller holds the groups lock.
    pub(in crate::store) async fn leave_groups(
        conn: &mut DB::Connection,
        user: &UserId,
        ctx: &WriteContext,
    ) -> Result<(), StoreError> {
        let groups: Vec<(String,)> = sqlx::query_as(gq::GROUPS_OF_USER)
            .bind(user.as_str())
            .fetch_all(&mut *conn)
            .await?;
        sqlx::query(gq::LEAVE_ALL_GROUPS)
            .bind(user.as_str())
            .execute(&mut *conn)
            .await?;
        for (name,) in &groups {
            let mut record = AuditRecord::user(AuditAction::UserGroupRemoved, user, None);
            record.target = Some(name);
            Self::audit(conn, ctx, record).await?;
        }
        Self::recompute(conn, user, ctx.now).await?;
        Ok(())
    }

    /// Serialises every writer of groups and mappings (SQLite: `BEGIN IMMEDIATE` does).
    pub(in crate::store) async fn lock_groups(conn: &mut DB::Connection) -> Result<(), StoreError> {
        if let Some(lock) = DB::GROUPS_LOCK {
            sqlx::query(lock).execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Applies a write's member change; gives who actually joined and who left.
    pub(super) async fn change_members(
        conn: &mut DB::Connection,
        id: &str,
        write: &ScimGroupWrite,
    ) -> Result<(Vec<UserId>, Vec<UserId>), StoreError> {
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        let change = &write.members;
        let (join, leave): (Vec<UserId>, Vec<UserId>) = match &change.replace {
            Some(all) => {
                let old: BTreeSet<UserId> = if write.create {
                    BTreeSet::new()
                } else {
                    Self::members_of(conn, id).await?.into_iter().collect()
                };
                let join = all.difference(&old).cloned().collect();
                let leave = old.difference(all).cloned().collect();
                (join, leave)
            }
            None => (
                change.add.iter().cloned().collect(),
                change.remove.iter().cloned().collect(),
            ),
        };
        for user in join {
            let done = sqlx::query(gq::ADD_MEMBER)
                .bind(id)
                .bind(user.as_str())
                .execute(&mut *conn)
                .await?;
            if DB::rows_affected(&done) > 0 {
                added.push(user);
            }
        }
        for user in leave {
            let done = sqlx::query(gq::REMOVE_MEMBER)
                .bind(id)
                .bind(user.as_str())
                .execute(&mut *conn)
                .await?;
            if DB::rows_affected(&done) > 0 {
                removed.push(user);
            }
        }
        Ok((added, removed))
    }

    /// `UnknownUsers` unless every id is a Keymint user.
    pub(super) async fn check_users<'a>(
        conn: &mut DB::Connection,
        ids: impl Iterator<Item = &'a UserId>,
    ) -> Result<(), StoreError> {
        let ids: Vec<&UserId> = ids.collect();
        let mut unknown = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let placeholders = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            // Numbered placeholders only; every id is bound.
            let sql =
                sqlx::AssertSqlSafe(gq::EXISTING_USERS.replace("{placeholders}", &placeholders));
            let mut query = sqlx::query_as::<DB, (String,)>(sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            let found: BTreeSet<String> = query
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(|(id,)| id)
                .collect();
            unknown.extend(
                chunk
                    .iter()
                    .filter(|id| !found.contains(id.as_str()))
                    .map(|id| id.as_str().to_owned()),
            );
        }
        if unknown.is_empty() {
            Ok(())
        } else {
            unknown.truncate(5);
            Err(StoreError::UnknownUsers(unknown))
        }
    }

    pub(super) async fn members_of(
        conn: &mut DB::Connection,
        id: &str,
    ) -> Result<Vec<UserId>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(gq::MEMBERS)
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
        rows.into_iter()
            .map(|(user,)| UserId::parse(&user).ok_or_else(corrupt_member))
            .collect()
    }

    pub(super) async fn is_mapped(
        conn: &mut DB::Connection,
        name_key: &str,
    ) -> Result<bool, StoreError> {
        let (count,): (i64,) = sqlx::query_as(gq::IS_MAPPED)
            .bind(name_key)
            .fetch_one(&mut *conn)
            .await?;
        Ok(count > 0)
    }

    /// Recomputes `user`'s group permissions; true when they changed.
    pub(super) async fn recompute(
        conn: &mut DB::Connection,
        user: &UserId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(gq::PERMISSIONS_OF_GROUPS)
            .bind(user.as_str())
            .fetch_all(&mut *conn)
            .await?;
        let mut held = Permissions::default();
        for (json,) in &rows {
            let mapped = Permissions::from_json(json).map_err(|_| {
                StoreError::Backend("unreadable value in group_permissions.permissions".to_owned())
            })?;
            held = held.union(&mapped);
        }
        let done = sqlx::query(gq::SET_GROUP_PERMISSIONS_OF_USER)
            .bind(user.as_str())
            .bind(held.to_json())
            .bind(now)
            .execute(&mut *conn)
            .await?;
        Ok(DB::rows_affected(&done) > 0)
    }
}

pub(super) fn corrupt_member() -> StoreError {
    StoreError::Backend("unreadable value in scim_group_members.user_id".to_owned())
}

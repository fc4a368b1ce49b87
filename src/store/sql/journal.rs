//! The journal every write appends in its own transaction: audit entries, change-feed
//! rows, and the outgoing lifecycle events (the outbox) the audited changes of keys
//! report.

use sqlx::{Database, Encode, Executor, IntoArguments, Type};
use time::OffsetDateTime;

use super::super::WriteContext;
use super::queries as q;
use super::{Backend, SqlStore};
use crate::domain::lifecycle_event::key_event;
use crate::domain::{ApiKey, AuditAction, LifecycleEvent, UserId};

/// How long an event is retried before it is set aside.
pub(crate) const DELIVERY_WINDOW: time::Duration = time::Duration::hours(24);

/// One audit entry to append; the time, the actor and the request come from the
/// [`WriteContext`] of the write it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuditRecord<'a> {
    pub action: AuditAction,
    pub environment: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub target: Option<&'a str>,
    /// The key an entry is about: its lifecycle event (if the action has one) goes to the
    /// outbox with the entry.
    pub key: Option<&'a ApiKey>,
}

impl<'a> AuditRecord<'a> {
    /// An entry about `key` (and its owner).
    pub fn key(action: AuditAction, key: &'a ApiKey, reason: Option<&'a str>) -> Self {
        Self {
            environment: Some(key.environment.as_str()),
            client_id: Some(key.client_id.as_str()),
            key: Some(key),
            ..Self::user(action, &key.owner_id, reason)
        }
    }

    /// An entry about something that is neither a key nor a user (a group, a mapping).
    pub fn about(action: AuditAction, target: &'a str, reason: Option<&'a str>) -> Self {
        Self {
            action,
            environment: None,
            client_id: None,
            user_id: None,
            reason,
            target: Some(target),
            key: None,
        }
    }

    /// An entry about `user`.
    pub fn user(action: AuditAction, user: &'a UserId, reason: Option<&'a str>) -> Self {
        Self {
            action,
            environment: None,
            client_id: None,
            user_id: Some(user.as_str()),
            reason,
            target: None,
            key: None,
        }
    }
}

/// The journal of writes. A trait, so the parts of the store that write need only the
/// one bound `SqlStore<DB>: Journal`.
pub(crate) trait Journal {
    /// The backend.
    type Db: Backend;

    /// Appends one audit entry.
    fn audit(
        conn: &mut <Self::Db as Database>::Connection,
        ctx: &WriteContext,
        record: AuditRecord<'_>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Appends a lifecycle event to the outbox.
    fn outbox(
        conn: &mut <Self::Db as Database>::Connection,
        now: OffsetDateTime,
        event: &LifecycleEvent,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Appends the change-feed rows of a transaction, as its last statements.
    fn changed(
        conn: &mut <Self::Db as Database>::Connection,
        now: OffsetDateTime,
        changes: &[(&str, &str)],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Appends the audit entries and change rows of a change to `keys`.
    fn keys_changed(
        conn: &mut <Self::Db as Database>::Connection,
        ctx: &WriteContext,
        action: AuditAction,
        keys: &[ApiKey],
        reason: Option<&str>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

impl<DB> Journal for SqlStore<DB>
where
    DB: Backend,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<&'e str>: Encode<'e, DB> + Type<DB>,
    for<'e> OffsetDateTime: Encode<'e, DB> + Type<DB>,
{
    type Db = DB;

    async fn audit(
        conn: &mut DB::Connection,
        ctx: &WriteContext,
        record: AuditRecord<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(q::INSERT_AUDIT)
            .bind(ctx.now)
            .bind(record.action.as_str())
            .bind(record.environment)
            .bind(record.client_id)
            .bind(record.user_id)
            .bind(ctx.actor.user.as_ref().map(|u| u.as_str()))
            .bind(ctx.actor.client_id.as_ref().map(|c| c.as_str()))
            .bind(ctx.actor.source.as_str())
            .bind(ctx.request_id.as_deref())
            .bind(record.reason)
            .bind(record.target)
            .bind(ctx.actor.operator.as_deref())
            .execute(&mut *conn)
            .await?;
        if let Some(event) = record
            .key
            .and_then(|key| key_event(record.action, key, record.reason, ctx.now))
        {
            Self::outbox(conn, ctx.now, &event).await?;
        }
        Ok(())
    }

    async fn outbox(
        conn: &mut DB::Connection,
        now: OffsetDateTime,
        event: &LifecycleEvent,
    ) -> Result<(), sqlx::Error> {
        let id = format!("evt_{}", crate::secrets::random_token(16));
        sqlx::query(q::INSERT_KEY_EVENT)
            .bind(id.as_str())
            .bind(event.kind)
            .bind(event.subject.as_str())
            .bind(event.body.as_str())
            .bind(now)
            .bind(now + DELIVERY_WINDOW)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Followers read `seq > last seen`, so a row must never become visible after a row
    /// with a higher `seq`. IDENTITY values are handed out at INSERT, not at commit, so
    /// two writers could commit out of order and a follower would skip the one that
    /// committed late. [`Backend::append_changes`] (PostgreSQL: a transaction-scoped
    /// advisory lock taken in the same statement as the rows) makes writers take `seq`
    /// values one transaction at a time and hold them until commit: seq order is commit
    /// order. It is taken last, after every row lock, and held only for that statement
    /// and the commit. SQLite's `BEGIN IMMEDIATE` already serialises writers.
    async fn changed(
        conn: &mut DB::Connection,
        now: OffsetDateTime,
        changes: &[(&str, &str)],
    ) -> Result<(), sqlx::Error> {
        if changes.is_empty() {
            return Ok(());
        }
        DB::append_changes(conn, now, changes).await
    }

    async fn keys_changed(
        conn: &mut DB::Connection,
        ctx: &WriteContext,
        action: AuditAction,
        keys: &[ApiKey],
        reason: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        for key in keys {
            Self::audit(conn, ctx, AuditRecord::key(action, key, reason)).await?;
        }
        let changes: Vec<(&str, &str)> =
            keys.iter().map(|k| ("key", k.client_id.as_str())).collect();
        Self::changed(conn, ctx.now, &changes).await
    }
}

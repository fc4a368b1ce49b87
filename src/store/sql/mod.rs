//! The store both backends share, as plain generic code over sqlx: [`SqlStore<DB>`] holds
//! the pool, [`Backend`] says how the two databases differ (how a write transaction
//! begins, row-lock clauses, the change-feed lock, notifications, the `keymint_user_events`
//! table), and `sqlite.rs` / `postgres.rs` implement [`Backend`]; `store_impl.rs` implements
//! [`super::Store`] once for both.
//!
//! Every write appends, in the same transaction, its audit entries and its change-feed
//! rows (`keymint_changes`), which every instance follows to invalidate memory. The rules
//! a write applies (frozen permissions, the update plan) are pure functions in
//! [`crate::domain`].

mod client_assertions;
mod console;
mod console_queries;
mod group_members;
mod group_queries;
mod groups;
mod journal;
mod key_events;
mod keys;
mod public_urls;
pub(super) mod queries;
mod records;
mod scim;
mod signing_keys;
mod status_lists;
mod store_impl;

use sqlx::{Database, Pool, Transaction};
use std::sync::Arc;
use std::time::Duration;

pub(crate) use journal::Journal;

use super::{StoreError, TableEventOutcome, Wakeup};
use crate::random::{Random, SystemRandom};
use time::OffsetDateTime;

/// How a database differs from the other.
pub(crate) trait Backend: Database {
    /// Appended to a `SELECT` to share-lock its rows (empty on SQLite, whose writers
    /// are serialised by `BEGIN IMMEDIATE`).
    const LOCK_SHARE: &'static str;
    /// Appended to a `SELECT` to lock its rows for update.
    const LOCK_UPDATE: &'static str;
    /// Appended to a `SELECT` to lock its rows for update, passing over rows another
    /// transaction holds (empty on SQLite, whose writers are serialised).
    const LOCK_SKIP: &'static str;
    /// Run first by a transaction that may insert a signing key, so that of instances
    /// racing, one decides and the others see its key (SQLite: `BEGIN IMMEDIATE`).
    const SIGNING_KEYS_LOCK: Option<&'static str>;
    /// Run first by every transaction that changes group membership, a group's name or
    /// a group mapping, so the permissions each recomputes see every other's result.
    const GROUPS_LOCK: Option<&'static str>;
    /// How often instances poll when no notification wakes them.
    const POLL_INTERVAL: Duration;

    /// Begins a write transaction.
    fn begin_write(
        pool: &Pool<Self>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send;

    /// Rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Applies pending migrations.
    fn migrate(pool: &Pool<Self>) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Appends change-feed rows `(kind, subject)` at `now`, as the transaction's last
    /// statement before its commit, in the order they are given (see
    /// [`Journal::changed`]).
    fn append_changes(
        conn: &mut Self::Connection,
        now: time::OffsetDateTime,
        changes: &[(&str, &str)],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Applies the oldest pending `keymint_user_events` row, if this backend has the
    /// table and no other instance is applying rows.
    fn next_table_event(
        store: &SqlStore<Self>,
        instance: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<TableEventOutcome>, StoreError>> + Send;

    /// Pending `keymint_user_events` rows and the oldest one's time.
    fn table_event_backlog(
        store: &SqlStore<Self>,
    ) -> impl Future<Output = Result<(i64, Option<OffsetDateTime>), StoreError>> + Send;

    /// Database notifications, where the backend has them.
    fn wakeups(store: &SqlStore<Self>) -> Option<tokio::sync::mpsc::Receiver<Wakeup>>;
}

/// A database of either backend.
pub struct SqlStore<DB: Database> {
    pub(super) pool: Pool<DB>,
    /// Etags.
    pub(super) random: Arc<dyn Random>,
}

impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            random: Arc::clone(&self.random),
        }
    }
}

impl<DB: Database> std::fmt::Debug for SqlStore<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("pool", &self.pool)
            .finish()
    }
}

impl<DB: Database> SqlStore<DB> {
    /// A store over `pool`, with etags from the OS generator.
    pub(super) fn new(pool: Pool<DB>) -> Self {
        Self {
            pool,
            random: Arc::new(SystemRandom),
        }
    }

    /// The same store with etags from `random` (tests make them repeatable).
    pub fn with_random(self, random: Arc<dyn Random>) -> Self {
        Self { random, ..self }
    }

    /// A fresh etag for the rows one write changes.
    pub(super) fn etag(&self) -> String {
        self.random.token(12)
    }

    /// Connections of the pool, for metrics.
    pub(super) fn pool_usage(&self) -> super::PoolUsage {
        super::PoolUsage {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }
}

/// `$sql` followed by `$lock` (a backend's row-lock clause).
pub(super) fn locked(sql: &'static str, lock: &'static str) -> sqlx::AssertSqlSafe<String> {
    // Both parts are constants of this crate, never input.
    sqlx::AssertSqlSafe(format!("{sql}{lock}"))
}

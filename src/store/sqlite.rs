//! SQLite backend: the embedded default. WAL mode, full fsync on commit, and
//! `BEGIN IMMEDIATE` for writes so concurrent writers queue instead of failing. There are
//! no notifications: instances poll the change feed (every 100 ms, one indexed query).

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

use super::sql::impl_sql_store;
use super::{StoreError, TableEventOutcome, Wakeup};

/// A SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    const POLL_INTERVAL: Duration = Duration::from_millis(100);

    /// Opens (creating when missing) the database at `url` (`sqlite://path`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// `keymint_user_events` is a PostgreSQL feature.
    async fn next_table_event(
        &self,
        _instance: &str,
        _now: OffsetDateTime,
    ) -> Result<Option<TableEventOutcome>, StoreError> {
        Ok(None)
    }

    async fn backlog(&self) -> Result<(i64, Option<OffsetDateTime>), StoreError> {
        Ok((0, None))
    }

    fn start_wakeups(&self) -> Option<tokio::sync::mpsc::Receiver<Wakeup>> {
        None
    }
}

impl_sql_store!(SqliteStore, Sqlite, migrator: sqlx::migrate!("migrations/sqlite"), lock_share: "", lock_update: "", changes_lock: "");

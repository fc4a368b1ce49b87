//! SQLite backend: the embedded default. WAL mode, full fsync on commit, and
//! `BEGIN IMMEDIATE` for writes so concurrent writers queue instead of failing. There are
//! no notifications: instances poll the change feed (every 100 ms, one indexed query).

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

use super::sql::{Backend, SqlStore};
use super::{StoreError, TableEventOutcome, Wakeup};

/// A SQLite database file.
pub type SqliteStore = SqlStore<Sqlite>;

impl Backend for Sqlite {
    const LOCK_SHARE: &'static str = "";
    const LOCK_UPDATE: &'static str = "";
    const LOCK_SKIP: &'static str = "";
    const SIGNING_KEYS_LOCK: Option<&'static str> = None;
    const GROUPS_LOCK: Option<&'static str> = None;
    const POLL_INTERVAL: Duration = Duration::from_millis(100);

    async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/sqlite")
            .run(pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))
    }

    /// `keymint_user_events` is a PostgreSQL feature.
    async fn next_table_event(
        _store: &SqlStore<Sqlite>,
        _instance: &str,
        _now: OffsetDateTime,
    ) -> Result<Option<TableEventOutcome>, StoreError> {
        Ok(None)
    }

    async fn table_event_backlog(
        _store: &SqlStore<Sqlite>,
    ) -> Result<(i64, Option<OffsetDateTime>), StoreError> {
        Ok((0, None))
    }

    /// SQLite has no notifications: instances poll.
    fn wakeups(_store: &SqlStore<Sqlite>) -> Option<tokio::sync::mpsc::Receiver<Wakeup>> {
        None
    }

    /// `BEGIN IMMEDIATE` already serialises SQLite's writers: no lock to take.
    async fn append_changes(
        conn: &mut sqlx::SqliteConnection,
        now: OffsetDateTime,
        changes: &[(&str, &str)],
    ) -> Result<(), sqlx::Error> {
        for (kind, subject) in changes {
            sqlx::query(super::sql::queries::INSERT_CHANGE)
                .bind(now)
                .bind(*kind)
                .bind(*subject)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

impl SqlStore<Sqlite> {
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
            // Within the request deadline (4.5 s), so a dark database answers 503 in time.
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await?;
        Ok(Self::new(pool))
    }
}

//! SQLite backend: the embedded default. WAL mode, full fsync on commit, and
//! `BEGIN IMMEDIATE` for writes so concurrent writers queue instead of failing. There are
//! no notifications: instances poll the change feed (every 100 ms, one indexed query).

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Connection, Sqlite, Transaction};
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
            // A COMMIT that fails on a full disk is rolled back by SQLite itself, while
            // sqlx still counts the transaction open (its own rollback then fails): every
            // later `BEGIN IMMEDIATE` on that connection would fail, until a restart,
            // even once space is freed. Such a connection is closed instead of reused.
            .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .connect_with(options)
            .await?;
        Ok(Self::new(pool))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection left counted as in a transaction that SQLite has ended (what a COMMIT
    /// failing on a full disk leaves) is not handed to the next writer.
    #[tokio::test]
    async fn a_connection_whose_transaction_sqlite_ended_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("k.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        {
            let mut tx = Sqlite::begin_write(&store.pool).await.unwrap();
            // SQLite ends the transaction; sqlx's rollback on drop then finds none to end.
            sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
        }
        // The connection's return to the pool runs in a task of its own.
        tokio::time::sleep(Duration::from_millis(200)).await;
        for n in 0..20 {
            let mut tx = Sqlite::begin_write(&store.pool)
                .await
                .unwrap_or_else(|e| panic!("write {n}: {e}"));
            sqlx::query("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query("INSERT INTO t (n) VALUES (?)")
                .bind(n)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(count, 20);
    }
}

//! PostgreSQL backend: the production store. Row locks (`FOR SHARE`, `FOR UPDATE`) order
//! concurrent writers; LISTEN/NOTIFY wakes every instance when the change feed or
//! `keymint_user_events` gets rows.

use sqlx::Connection;
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions, PgQueryResult,
};
use sqlx::{Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::sql::{Backend, SqlStore};
use super::{StoreError, TableEventOutcome, Wakeup, WriteContext};
use crate::domain::{Actor, ChangeSource, UserEvent};

/// Advisory lock that lets one instance at a time apply `keymint_user_events` rows, so
/// they take effect in insertion order.
const USER_EVENTS_LOCK: i64 = 0x6b65_796d_696e_7401;

/// Tries of a `keymint_user_events` row that fails for a reason other than its content
/// (a database-side error) before it is set aside with that error.
pub const MAX_EVENT_ATTEMPTS: i32 = 5;

/// A PostgreSQL database.
pub type PgStore = SqlStore<Postgres>;

impl Backend for Postgres {
    const LOCK_SHARE: &'static str = " FOR SHARE";
    const LOCK_UPDATE: &'static str = " FOR UPDATE";
    const LOCK_SKIP: &'static str = " FOR UPDATE SKIP LOCKED";
    /// Advisory lock 0x6b65_796d_696e_7403 ("keymint" 03), taken first by a transaction
    /// that may insert a signing key (and before the change-feed lock).
    const SIGNING_KEYS_LOCK: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(7738725045533307907)");
    /// Advisory lock 0x6b65_796d_696e_7404 ("keymint" 04), taken first by a transaction
    /// that changes groups or their mapping (and by a SCIM user's delete, which leaves
    /// its groups), before any row lock.
    const GROUPS_LOCK: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(7738725045533307908)");
    /// A safety net only: notifications normally wake instances at once.
    const POLL_INTERVAL: Duration = Duration::from_secs(1);

    async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        pool.begin().await
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/postgres")
            .run(pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))
    }

    /// One statement, one round trip: advisory lock 0x6b65_796d_696e_7402 ("keymint" 02),
    /// then the rows. Each writer holds the lock from its first change-feed row to its
    /// commit, so `keymint_changes.seq` values are taken one transaction at a time and
    /// `seq` order is commit order (a follower reading `seq > last seen` never skips a
    /// late commit). The lock is the join's one-row side, so every `seq` is drawn after
    /// it is granted; what runs under it is this statement and the commit.
    async fn append_changes(
        conn: &mut sqlx::PgConnection,
        now: OffsetDateTime,
        changes: &[(&str, &str)],
    ) -> Result<(), sqlx::Error> {
        let (kinds, subjects): (Vec<&str>, Vec<&str>) = changes.iter().copied().unzip();
        sqlx::query(
            "WITH feed_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(7738725045533307906)) \
             INSERT INTO keymint_changes (at, kind, subject) \
             SELECT $1, c.kind, c.subject FROM feed_lock, \
             unnest($2::text[], $3::text[]) WITH ORDINALITY AS c(kind, subject, n) ORDER BY c.n",
        )
        .bind(now)
        .bind(kinds)
        .bind(subjects)
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn next_table_event(
        store: &SqlStore<Postgres>,
        instance: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TableEventOutcome>, StoreError> {
        store.apply_oldest_table_event(instance, now).await
    }

    async fn table_event_backlog(
        store: &SqlStore<Postgres>,
    ) -> Result<(i64, Option<OffsetDateTime>), StoreError> {
        store.backlog().await
    }

    fn wakeups(store: &SqlStore<Postgres>) -> Option<mpsc::Receiver<Wakeup>> {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(listen(store.pool.clone(), tx));
        Some(rx)
    }
}

/// How long one connection attempt may take at start-up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// What went wrong connecting to `place`, in words an operator can act on.
fn connect_failure(place: &str, options: &PgConnectOptions, e: &sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Io(io) => {
            let why = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::TimedOut => "timed out".to_owned(),
                _ => io.to_string(),
            };
            StoreError::Backend(format!("cannot reach PostgreSQL at {place}: {why}"))
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // 28P01 invalid_password, 28000 invalid_authorization_specification.
            Some("28P01" | "28000") => StoreError::Misconfigured(format!(
                "PostgreSQL at {place} refused the login of user {:?}: {}",
                options.get_username(),
                db.message()
            )),
            // 3D000 invalid_catalog_name.
            Some("3D000") => StoreError::Misconfigured(format!(
                "PostgreSQL at {place} has no database {:?}: {}",
                options.get_database().unwrap_or_default(),
                db.message()
            )),
            _ => StoreError::Backend(format!("PostgreSQL at {place}: {}", db.message())),
        },
        other => StoreError::Backend(format!("PostgreSQL at {place}: {other}")),
    }
}

impl SqlStore<Postgres> {
    /// Connects to `url` (`postgres://...`). A failure names the server and the cause
    /// (connection refused, a login refused, no such database), and says whether trying
    /// again can help ([`StoreError::Misconfigured`] when it cannot).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let place = format!("{}:{}", options.get_host(), options.get_port());
        // One direct attempt first: the pool retries a failed connection until its acquire
        // timeout and then reports only "pool timed out", hiding why.
        match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
            }
            Ok(Err(e)) => return Err(connect_failure(&place, &options, &e)),
            Err(_) => {
                return Err(StoreError::Backend(format!(
                    "PostgreSQL at {place} did not answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // Within the request deadline (4.5 s), so a dark database answers 503 in time.
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options.clone())
            .await
            .map_err(|e| connect_failure(&place, &options, &e))?;
        Ok(Self::new(pool))
    }

    async fn apply_oldest_table_event(
        &self,
        instance: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TableEventOutcome>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(USER_EVENTS_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            // Another instance is applying rows; it keeps going until none are left.
            return Ok(None);
        }
        let row: Option<(i64, String, String, OffsetDateTime)> = sqlx::query_as(
            "SELECT id, type, data::text, created_at FROM keymint_user_events WHERE processed_at IS NULL ORDER BY id LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, kind, data, created_at)) = row else {
            return Ok(None);
        };
        let ctx = WriteContext {
            now,
            actor: Actor::system(ChangeSource::Table),
            request_id: Some(format!("user-event:{id}")),
        };
        let event = serde_json::from_str(&data)
            .map_err(|e| e.to_string())
            .and_then(|data| UserEvent::from_parts(&kind, data).map_err(|e| e.0));
        let result = match event {
            // The row's time orders this user's events (a row committed late but written
            // earlier must not undo a later one).
            Ok(event) => {
                match Self::apply_event_tx(&mut tx, &event, Some(created_at), &ctx, &self.etag())
                    .await
                {
                    Ok(Some(applied)) => Ok(applied),
                    Ok(None) => {
                        Err("stale: older than the last event applied for this user".to_owned())
                    }
                    Err(e) => {
                        tx.rollback().await?;
                        return self.failed_attempt(id, &e, instance, now).await;
                    }
                }
            }
            Err(error) => Err(error),
        };
        sqlx::query(
            "UPDATE keymint_user_events SET processed_at = $2, processed_by = $3, error = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .bind(instance)
        .bind(result.as_ref().err())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(TableEventOutcome { id, result }))
    }

    /// Counts a failed try of row `id`; past [`MAX_EVENT_ATTEMPTS`] the row is set aside
    /// (processed, with the error) so the rows after it go on. Before that the error is
    /// returned and the row is tried again at the next wake-up.
    async fn failed_attempt(
        &self,
        id: i64,
        error: &StoreError,
        instance: &str,
        now: OffsetDateTime,
    ) -> Result<Option<TableEventOutcome>, StoreError> {
        let attempts: i32 = sqlx::query_scalar(
            "UPDATE keymint_user_events SET attempts = attempts + 1, error = $2 WHERE id = $1 RETURNING attempts",
        )
        .bind(id)
        .bind(error.to_string())
        .fetch_one(&self.pool)
        .await?;
        if attempts < MAX_EVENT_ATTEMPTS {
            return Err(StoreError::Backend(format!(
                "user event row {id} failed (try {attempts} of {MAX_EVENT_ATTEMPTS}): {error}"
            )));
        }
        let reason = format!("set aside after {attempts} tries: {error}");
        sqlx::query(
            "UPDATE keymint_user_events SET processed_at = $2, processed_by = $3, error = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .bind(instance)
        .bind(&reason)
        .execute(&self.pool)
        .await?;
        Ok(Some(TableEventOutcome {
            id,
            result: Err(reason),
        }))
    }

    async fn backlog(&self) -> Result<(i64, Option<OffsetDateTime>), StoreError> {
        let row: (i64, Option<OffsetDateTime>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM keymint_user_events WHERE processed_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row)
    }
}

/// Keeps a LISTEN connection up, forwarding notifications; reconnects with back-off.
/// Ends when the receiver is dropped.
async fn listen(pool: PgPool, tx: mpsc::Sender<Wakeup>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener
                .listen_all(["keymint_changes", "keymint_user_events"])
                .await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(e) => {
                if tx.send(Wakeup::Disconnected(e.to_string())).await.is_err() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        if tx.send(Wakeup::Connected).await.is_err() {
            return;
        }
        let reason = loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    let wakeup = if n.channel() == "keymint_user_events" {
                        Wakeup::UserEvents
                    } else {
                        Wakeup::Changes
                    };
                    if tx.send(wakeup).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break "connection lost".to_owned(),
                Err(e) => break e.to_string(),
            }
        };
        if tx.send(Wakeup::Disconnected(reason)).await.is_err() {
            return;
        }
    }
}

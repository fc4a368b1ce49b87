//! The outbox of lifecycle events, as the deliverer sees it: claim what is due (at most one
//! event per subject, the oldest: delivery in commit order per key), then record the
//! outcome. A claim holds its rows until `lease_until`, so no two instances send one
//! event at once; a deliverer killed mid-send leaves the lease to run out, and the event
//! is sent again (at least once).

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

use super::super::{OutboxEvent, OutboxState, StoreError};
use super::{Backend, SqlStore, locked};

/// Due events whose subject has no earlier undelivered event, oldest first.
const DUE: &str = "SELECT seq FROM key_events e WHERE state = 'pending' \
     AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1) \
     AND NOT EXISTS (SELECT 1 FROM key_events p WHERE p.subject = e.subject \
     AND p.seq < e.seq AND p.state = 'pending') \
     ORDER BY seq LIMIT $2";
const LEASE: &str = "UPDATE key_events SET lease_until = $2, attempts = attempts + 1 \
     WHERE seq = $1 RETURNING id, type, subject, body, created_at, state, attempts, \
     next_attempt_at, last_error";
const DELIVERED: &str = "DELETE FROM key_events WHERE id = $1";
/// A failure: due again at `$3`, or set aside when that is past its delivery window.
const FAILED: &str = "UPDATE key_events SET last_error = $2, next_attempt_at = $3, \
     lease_until = NULL, \
     state = CASE WHEN deliver_until <= $3 THEN 'set_aside' ELSE 'pending' END \
     WHERE id = $1";
const LIST: &str = "SELECT id, type, subject, body, created_at, state, attempts, \
     next_attempt_at, last_error FROM key_events \
     WHERE (CAST($1 AS TEXT) IS NULL OR state = CAST($1 AS TEXT)) ORDER BY seq LIMIT $2";
const COUNTS: &str = "SELECT state, COUNT(*) FROM key_events GROUP BY state";
const OLDEST_PENDING: &str = "SELECT MIN(created_at) FROM key_events WHERE state = 'pending'";
/// Due at once with a new delivery window; one (`$1`) or every set-aside event.
const RETRY: &str = "UPDATE key_events SET state = 'pending', attempts = 0, \
     next_attempt_at = $2, deliver_until = $3, lease_until = NULL \
     WHERE state = 'set_aside' AND (CAST($1 AS TEXT) IS NULL OR id = CAST($1 AS TEXT))";
/// Events kept this long past their delivery window (delivered ones are deleted at once).
pub(super) const PRUNE: &str = "DELETE FROM key_events WHERE deliver_until < $1";

#[derive(FromRow)]
pub(super) struct EventRow {
    id: String,
    #[sqlx(rename = "type")]
    kind: String,
    subject: String,
    body: String,
    created_at: OffsetDateTime,
    state: String,
    attempts: i32,
    next_attempt_at: OffsetDateTime,
    last_error: Option<String>,
}

impl From<EventRow> for OutboxEvent {
    fn from(r: EventRow) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            subject: r.subject,
            body: r.body,
            created_at: r.created_at,
            set_aside: r.state == "set_aside",
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
        }
    }
}

// The bounds name the store's private row type; only the store calls these.
#[allow(private_bounds)]
impl<DB> SqlStore<DB>
where
    DB: Backend,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<&'e str>: Encode<'e, DB> + Type<DB>,
    for<'e> OffsetDateTime: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (String, i64): FromRow<'r, DB::Row>,
    for<'r> (Option<OffsetDateTime>,): FromRow<'r, DB::Row>,
    for<'r> EventRow: FromRow<'r, DB::Row>,
{
    pub(in crate::store) async fn claim_events(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        let due: Vec<(i64,)> = sqlx::query_as(locked(DUE, DB::LOCK_SKIP))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for (seq,) in due {
            let row: EventRow = sqlx::query_as(LEASE)
                .bind(seq)
                .bind(lease_until)
                .fetch_one(&mut *tx)
                .await?;
            claimed.push(row.into());
        }
        tx.commit().await?;
        Ok(claimed)
    }

    pub(in crate::store) async fn event_delivered(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query(DELIVERED).bind(id).execute(&self.pool).await?;
        Ok(())
    }

    pub(in crate::store) async fn event_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(FAILED)
            .bind(id)
            .bind(error)
            .bind(next_attempt_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(in crate::store) async fn list_events(
        &self,
        set_aside_only: bool,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(LIST)
            .bind(set_aside_only.then_some("set_aside"))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub(in crate::store) async fn outbox_state(&self) -> Result<OutboxState, StoreError> {
        let counts: Vec<(String, i64)> = sqlx::query_as(COUNTS).fetch_all(&self.pool).await?;
        let count = |state: &str| {
            counts
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0))
        };
        let (oldest,): (Option<OffsetDateTime>,) =
            sqlx::query_as(OLDEST_PENDING).fetch_one(&self.pool).await?;
        Ok(OutboxState {
            pending: count("pending"),
            set_aside: count("set_aside"),
            oldest_pending: oldest,
        })
    }

    pub(in crate::store) async fn retry_events(
        &self,
        id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(RETRY)
            .bind(id)
            .bind(now)
            .bind(now + super::journal::DELIVERY_WINDOW)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done))
    }
}

//! Status-list indexes: allocated once per credential from the environment's counter (in
//! the transaction that creates or rotates the key), and read back for the list.

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

use super::super::{StatusEntry, StatusScope, StatusSnapshot, StoreError};
use super::{Backend, SqlStore};
use crate::domain::{ClientId, EnvironmentName};

/// Takes the environment's next index. The counter row stays locked until the commit, so
/// a committed `next_index` means every index below it was committed (no gaps: a rollback
/// returns the index with the counter).
const ALLOCATE: &str = "INSERT INTO status_list_counters (environment, next_index) VALUES ($1, 1) \
     ON CONFLICT (environment) DO UPDATE SET next_index = status_list_counters.next_index + 1 \
     RETURNING next_index - 1";
const NEXT: &str = "SELECT next_index FROM status_list_counters WHERE environment = $1";
macro_rules! status_select {
    ($where:literal) => {
        concat!(
            "SELECT k.client_id, k.status_index, k.previous_status_index, \
             k.previous_secret_expires_at, k.expires_at, (k.enabled AND u.active) AS usable \
             FROM api_keys k JOIN users u ON u.id = k.owner_id WHERE k.environment = $1 AND ",
            $where
        )
    };
}
const ALL: &str = status_select!("$2 = $2");
const FROM: &str = status_select!("k.status_index >= $2");
const RANGE: &str = status_select!("k.status_index >= $2 AND k.status_index < $3");
const KEY: &str = status_select!("k.client_id = $2");
const OWNER: &str = status_select!("k.owner_id = $2");

#[derive(FromRow)]
pub(super) struct StatusRow {
    client_id: String,
    status_index: i64,
    previous_status_index: Option<i64>,
    previous_secret_expires_at: Option<OffsetDateTime>,
    expires_at: Option<OffsetDateTime>,
    usable: bool,
}

fn index(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value)
        .map_err(|_| StoreError::Backend("unreadable value in api_keys.status_index".into()))
}

impl TryFrom<StatusRow> for StatusEntry {
    type Error = StoreError;

    fn try_from(r: StatusRow) -> Result<Self, StoreError> {
        let previous = match (r.previous_status_index, r.previous_secret_expires_at) {
            (Some(i), Some(until)) => Some((index(i)?, until)),
            _ => None,
        };
        Ok(Self {
            client_id: ClientId::new(r.client_id),
            index: index(r.status_index)?,
            previous,
            usable: r.usable,
            expires_at: r.expires_at,
        })
    }
}

/// Takes `environment`'s next status index inside the caller's write transaction.
pub(super) async fn allocate<DB>(
    conn: &mut DB::Connection,
    environment: &EnvironmentName,
) -> Result<i64, StoreError>
where
    DB: Backend,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
{
    let (next,): (i64,) = sqlx::query_as(ALLOCATE)
        .bind(environment.as_str())
        .fetch_one(&mut *conn)
        .await?;
    Ok(next)
}

// The bounds name the store's private row type; only the store calls this.
#[allow(private_bounds)]
impl<DB> SqlStore<DB>
where
    DB: Backend,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> StatusRow: FromRow<'r, DB::Row>,
{
    pub(in crate::store) async fn status_snapshot(
        &self,
        environment: &EnvironmentName,
        scope: StatusScope<'_>,
    ) -> Result<StatusSnapshot, StoreError> {
        // The counter first: whatever it counts was committed before the entries are read.
        let next: Option<(i64,)> = sqlx::query_as(NEXT)
            .bind(environment.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let env = environment.as_str();
        let query = match scope {
            StatusScope::All => sqlx::query_as(ALL).bind(env).bind(0_i64),
            StatusScope::From(from) => sqlx::query_as(FROM).bind(env).bind(i64::from(from)),
            StatusScope::Range(from, to) => sqlx::query_as(RANGE)
                .bind(env)
                .bind(i64::from(from))
                .bind(i64::from(to)),
            StatusScope::Key(id) => sqlx::query_as(KEY).bind(env).bind(id.as_str()),
            StatusScope::Owner(id) => sqlx::query_as(OWNER).bind(env).bind(id.as_str()),
        };
        let rows: Vec<StatusRow> = query.fetch_all(&self.pool).await?;
        Ok(StatusSnapshot {
            next_index: next.map_or(Ok(0), |(n,)| index(n))?,
            entries: rows
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
        })
    }
}

//! Client assertions seen (RFC 7523 §3: "the JWT MUST contain a jti claim" the server may
//! use to refuse a replay): one row per `(client_id, jti)` until the assertion expires. The
//! insert decides, so of two instances given the same assertion exactly one accepts it.
//! Concurrent requests' assertions are written by one statement (see
//! `oauth::client_auth::replay`); `RETURNING` names the rows it inserted, so each request
//! still learns whether its own `jti` was new.

use sqlx::{Encode, Executor, FromRow, IntoArguments, QueryBuilder, Type};
use std::collections::HashSet;
use time::OffsetDateTime;

use super::super::{NewAssertion, StoreError};
use super::{Backend, SqlStore};

/// Rows written by one statement at most (three parameters each: far below SQLite's
/// 32,766 and PostgreSQL's 65,535 bind parameters).
pub(in crate::store) const MAX_BATCH: usize = 1_000;
/// Rows whose assertion has expired: a replay of it is refused by its `exp` anyway.
pub(super) const PRUNE: &str = "DELETE FROM client_assertions WHERE expires_at < $1";

// The bounds name the store's private backend trait; only the store calls this.
#[allow(private_bounds)]
impl<DB> SqlStore<DB>
where
    DB: Backend,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> OffsetDateTime: Encode<'e, DB> + Type<DB>,
    for<'r> (String, String): FromRow<'r, DB::Row>,
{
    pub(in crate::store) async fn record_client_assertions(
        &self,
        batch: &[NewAssertion<'_>],
    ) -> Result<Vec<bool>, StoreError> {
        let mut new = HashSet::new();
        for chunk in batch.chunks(MAX_BATCH) {
            let mut query: QueryBuilder<DB> =
                QueryBuilder::new("INSERT INTO client_assertions (client_id, jti, expires_at) ");
            query.push_values(chunk, |mut row, a| {
                row.push_bind(a.client_id)
                    .push_bind(a.jti)
                    .push_bind(a.expires_at);
            });
            query.push(" ON CONFLICT (client_id, jti) DO NOTHING RETURNING client_id, jti");
            let inserted: Vec<(String, String)> =
                query.build_query_as().fetch_all(&self.pool).await?;
            new.extend(inserted);
        }
        // A pair named twice in `batch` would read as new twice: the caller sends each once.
        Ok(batch
            .iter()
            .map(|a| new.contains(&(a.client_id.to_owned(), a.jti.to_owned())))
            .collect())
    }
}

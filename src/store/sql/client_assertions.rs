//! Client assertions seen (RFC 7523 §3: "the JWT MUST contain a jti claim" the server may
//! use to refuse a replay): one row per `(client_id, jti)` until the assertion expires. The
//! insert decides, so of two instances given the same assertion exactly one accepts it.

use sqlx::{Encode, Executor, IntoArguments, Type};
use time::OffsetDateTime;

use super::super::StoreError;
use super::{Backend, SqlStore};

const RECORD: &str = "INSERT INTO client_assertions (client_id, jti, expires_at) \
     VALUES ($1, $2, $3) ON CONFLICT (client_id, jti) DO NOTHING";
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
{
    pub(in crate::store) async fn record_client_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(RECORD)
            .bind(client_id)
            .bind(jti)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) == 1)
    }
}

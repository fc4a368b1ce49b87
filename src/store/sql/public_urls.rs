//! The public URL each instance serves, so instances on one database notice when they
//! disagree (a token carries its instance's URL in `iss`; another URL refuses it).

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

use super::super::StoreError;
use super::{Backend, SqlStore};

const RECORD: &str = "INSERT INTO keymint_public_urls (public_url, seen_at) VALUES ($1, $2) \
     ON CONFLICT (public_url) DO UPDATE SET seen_at = excluded.seen_at";
const SINCE: &str =
    "SELECT public_url FROM keymint_public_urls WHERE seen_at >= $1 ORDER BY public_url";
const PRUNE: &str = "DELETE FROM keymint_public_urls WHERE seen_at < $1";

/// Rows not refreshed for this long are forgotten.
const FORGET_AFTER: time::Duration = time::Duration::days(1);

// The bounds name the store's private backend trait; only the store calls this.
#[allow(private_bounds)]
impl<DB> SqlStore<DB>
where
    DB: Backend,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> OffsetDateTime: Encode<'e, DB> + Type<DB>,
    for<'r> (String,): FromRow<'r, DB::Row>,
{
    pub(in crate::store) async fn record_public_url(
        &self,
        public_url: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(RECORD)
            .bind(public_url)
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(PRUNE)
            .bind(now - FORGET_AFTER)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(in crate::store) async fn public_urls(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let urls: Vec<(String,)> = sqlx::query_as(SINCE)
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        Ok(urls.into_iter().map(|(url,)| url).collect())
    }
}

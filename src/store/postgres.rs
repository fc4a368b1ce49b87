//! PostgreSQL backend: the production store. Row locks (`FOR SHARE`, `FOR UPDATE`) order
//! concurrent writers on the rows they touch.

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use std::time::Duration;

use super::StoreError;
use super::sql::impl_sql_store;

/// A PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://...`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

impl_sql_store!(PgStore, migrator: sqlx::migrate!("migrations/postgres"), lock_share: " FOR SHARE", lock_update: " FOR UPDATE");

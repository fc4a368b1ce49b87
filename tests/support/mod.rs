//! Test support shared by the integration suites: a fresh database per test on either
//! backend. PostgreSQL tests need `KEYMINT_TEST_POSTGRES_URL` (an admin connection URL);
//! each test creates its own database there and drops it afterwards.
#![allow(dead_code)]

pub mod proxy;

use sqlx::Connection;
use std::sync::Arc;

use keymint::store::Store;

/// Reason shown for PostgreSQL tests when the suite is not enabled.
pub const PG_SKIP: &str = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite";

/// A fresh, empty database that removes itself.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A SQLite file in a temporary folder.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("keymint.db").display());
        Self {
            url,
            _dir: Some(dir),
            pg: None,
        }
    }

    /// A new database on the PostgreSQL server of `KEYMINT_TEST_POSTGRES_URL`.
    pub async fn postgres() -> Self {
        let admin = std::env::var("KEYMINT_TEST_POSTGRES_URL")
            .expect("KEYMINT_TEST_POSTGRES_URL must be set for the PostgreSQL suite");
        let name = format!(
            "keymint_test_{}",
            keymint::secrets::random_token(9)
                .to_lowercase()
                .replace(['-', '_'], "x")
        );
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL at KEYMINT_TEST_POSTGRES_URL is unreachable: {e}")
            });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let (base, query) = admin
            .split_once('?')
            .map_or((admin.as_str(), ""), |(b, q)| (b, q));
        let prefix = &base[..base.rfind('/').expect("URL has a database path")];
        let url = if query.is_empty() {
            format!("{prefix}/{name}")
        } else {
            format!("{prefix}/{name}?{query}")
        };
        Self {
            url,
            _dir: None,
            pg: Some((admin, name)),
        }
    }

    /// Opens the store and runs migrations.
    pub async fn store(&self) -> Arc<dyn Store> {
        let store = keymint::store::connect(&self.url)
            .await
            .expect("connect store");
        store.migrate().await.expect("migrate");
        store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        // Drop runs inside a runtime; use a fresh thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()
            })
        })
        .join();
    }
}

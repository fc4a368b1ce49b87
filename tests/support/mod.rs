//! Test support shared by the integration suites: a fresh database per test on either
//! backend. PostgreSQL tests need `KEYMINT_TEST_POSTGRES_URL` (an admin connection URL);
//! each test creates its own database there and drops it afterwards.
#![allow(dead_code)]

pub mod binary;
pub mod proxy;

use sqlx::Connection;
use std::future::Future;
use std::sync::Arc;

use keymint::store::Store;

/// Reason shown for PostgreSQL tests when the suite is not enabled.
pub const PG_SKIP: &str = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite";

/// The database a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// A fresh database of this backend.
    pub async fn db(self) -> TestDb {
        match self {
            Backend::Sqlite => TestDb::sqlite(),
            Backend::Postgres => TestDb::postgres().await,
        }
    }
}

/// Runs `test` on `backend` (the API suites build their own server from it).
pub async fn with_backend<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Backend) -> Fut,
    Fut: Future<Output = ()>,
{
    test(backend).await;
}

/// Runs `test` on a fresh, migrated store of `backend`.
pub async fn with_store<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = backend.db().await;
    test(db.store().await).await;
}

/// Stamps each test function of a module as a test on SQLite and on PostgreSQL:
/// `both_backends!(token: a, b)` runs `crate::token::a(Backend)`, and
/// `both_backends!(store suite: a, b)` runs `crate::suite::a(Arc<dyn Store>)` on a fresh store.
// Not every test crate that includes this module stamps tests.
#[allow(unused_macros)]
macro_rules! both_backends {
    (@stamp $run:ident, $module:ident: $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::support::$run(crate::support::Backend::Sqlite, crate::$module::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(keymint_pg), ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite")]
                async fn $name() {
                    crate::support::$run(crate::support::Backend::Postgres, crate::$module::$name).await;
                }
            )*
        }
    };
    (store $module:ident: $($name:ident),* $(,)?) => {
        crate::support::both_backends!(@stamp with_store, $module: $($name),*);
    };
    ($module:ident: $($name:ident),* $(,)?) => {
        crate::support::both_backends!(@stamp with_backend, $module: $($name),*);
    };
}

#[allow(unused_imports)]
pub(crate) use both_backends;

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

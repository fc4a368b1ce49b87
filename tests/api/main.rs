//! End-to-end tests of the HTTP API against a server on port 0, on both backends.

#[path = "../support/mod.rs"]
mod support;

mod app;
mod bad_input;
mod brute_force;
mod cluster;
mod connections;
mod db_faults;
mod discovery;
mod events;
mod events_postgres;
mod fast_path;
mod gateway;
mod graphql;
mod idp;
mod introspection;
mod management_rules;
mod metrics;
mod openapi;
mod rotation;
mod session_tokens;
mod token;
mod token_errors;
mod verifier;

/// Stamps each `async fn(Backend)` as a test on SQLite and on PostgreSQL.
macro_rules! both_backends {
    ($module:ident: $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::$module::$name(crate::app::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(keymint_pg), ignore = "set KEYMINT_TEST_POSTGRES_URL to run the PostgreSQL suite")]
                async fn $name() {
                    crate::$module::$name(crate::app::Backend::Postgres).await;
                }
            )*
        }
    };
}

pub(crate) use both_backends;

//! Keymint: an OAuth2 client-credentials token issuer.
//!
//! Map of the crate:
//! - [`domain`]: plain types (users, API keys, permissions, environments).
//! - [`store`]: persistence behind one [`store::Store`] trait, SQLite and PostgreSQL.
//! - [`secrets`]: client id/secret generation and argon2id hashing on a bounded blocking pool.
//! - [`signing`]: per-environment signing keys on disk, JWKS, JWT signing.
//! - [`oauth`]: the token endpoint and discovery documents.
//! - [`manage`]: the use cases that change keys and users, shared by the CLI, the
//!   webhook, the PostgreSQL event table and the HTTP APIs.
//! - [`events`]: user-lifecycle events (webhook, table) and the sync task.
//! - [`changes`]: the change feed every instance follows to invalidate memory.
//! - [`graphql`]: the management API (contract operations, auth, audit trail).
//! - [`verifier`]: token verification and an axum layer for Rust resource servers;
//!   [`jwks_client`]: the one JWKS fetch/cache client it and session tokens share.
//! - [`app`]: router, shared state and the server loop; [`startup`]: serving while the
//!   database is not there yet; [`serve`]: the one HTTP server loop (timeouts,
//!   connection cap, drain); [`cli`]: the `keymint` command.

pub mod app;
pub mod changes;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod events;
pub mod graphql;
pub mod health;
pub mod http_guard;
pub mod jwks_client;
pub mod manage;
pub mod metrics;
pub mod oauth;
pub mod request_id;
pub mod request_metrics;
pub mod routes;
pub mod secrets;
pub mod serve;
pub mod signing;
pub mod startup;
pub mod store;
pub mod tls;
pub mod usage;
pub mod verifier;

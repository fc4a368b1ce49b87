//! Keymint: an OAuth2 client-credentials token issuer.
//!
//! Map of the crate (see `docs/ARCHITECTURE.md` for the paths of a request):
//! - [`domain`]: plain types and rules (users, API keys, permissions, environments).
//! - [`store`]: persistence behind one [`store::Store`] trait, SQLite and PostgreSQL.
//! - [`secrets`]: client id/secret generation and argon2id hashing on a bounded pool.
//! - [`signing`]: per-environment signing keys, rotation, JWKS, JWT signing.
//! - [`oauth`]: the token, introspection and revocation endpoints, and discovery.
//! - [`manage`]: the use cases that change keys and users, shared by the CLI, the
//!   webhook, the PostgreSQL event table and the HTTP APIs.
//! - [`events`]: the signed user-lifecycle webhook.
//! - [`sync`]: the background task and the change feed every instance follows.
//! - [`graphql`]: the management API (contract operations, auth, audit trail).
//! - [`scim`]: the SCIM 2.0 service provider directories push users and groups to.
//! - [`console`]: the web console for people (sign-in, key pages).
//! - [`verifier`]: token verification and an axum layer for Rust resource servers,
//!   with the JWKS client that session tokens share.
//! - [`http`]: state, router, guard, health and the one serve path.
//! - [`metrics`]: counters and the Prometheus exposition.
//! - [`config`], [`clock`], [`random`], [`cli`]: configuration, time, non-secret
//!   randomness, the `keymint` command.

pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod domain;
pub mod events;
pub mod graphql;
pub mod http;
pub mod manage;
pub mod metrics;
pub mod oauth;
pub mod random;
pub mod scim;
pub mod secrets;
pub mod signing;
pub mod store;
pub mod sync;
pub mod verifier;

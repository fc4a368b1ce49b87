//! Keymint: an OAuth2 client-credentials token issuer.
//!
//! Map of the crate, from the ground up: each module imports only those listed before it
//! (see `docs/ARCHITECTURE.md` for the path of a request).
//! - [`domain`], [`clock`], [`random`]: plain types and rules, time, non-secret randomness.
//! - [`store`]: persistence behind one [`store::Store`] trait, SQLite and PostgreSQL.
//! - [`secrets`]: client id/secret generation, check tags, argon2id on a bounded pool.
//! - [`changes`]: the change feed every instance follows, and how fresh it is.
//! - [`web`]: what every HTTP door shares (error bodies, request ids, forms, the client's
//!   address behind trusted proxies, page security headers).
//! - [`metrics`]: the counters the request path fills.
//! - [`verifier`]: token verification for resource servers, and the JWKS client that
//!   identity-provider session tokens share.
//! - [`signing`]: per-environment signing keys, rotation, JWKS, JWT signing.
//! - [`manage`]: the one door for every write (CLI, GraphQL, webhook, table, SCIM, console).
//! - [`events`]: the signed user-lifecycle webhook.
//! - [`scim`]: the SCIM 2.0 service provider directories push users and groups to.
//! - [`config`]: configuration, read once from the environment.
//! - [`oauth`]: the token, introspection and revocation endpoints, and discovery.
//! - [`graphql`]: the management API (contract operations, auth, audit trail, explorer).
//! - [`sync`]: the background loops (change feed reader, table events, schedules).
//! - [`console`]: the web console for people (sign-in, key pages).
//! - [`http`]: the top layer: state, route table, OpenAPI, guard, `/metrics`, serve.
//! - [`cli`]: the `keymint` command.

pub mod changes;
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
pub mod status_list;
pub mod store;
pub mod sync;
pub mod verifier;
pub mod web;

//! Token status lists (draft-ietf-oauth-status-list): every credential of a key holds an
//! index in its environment's lists, every access token names it (`status`), and
//! `GET /{env}/statuslists/{n}` serves the signed bits, so a gateway validating tokens
//! offline learns of a disabled key within the list's `ttl` without a call per request.
//!
//! - [`ledger`]: the indexes an instance knows and the bits they make at a time (pure);
//! - [`encode`]: the draft's encoding (zlib, base64url, `statuslist+jwt`) and the claim;
//! - [`publisher`]: the per-environment ledgers kept by the change feed, built on demand;
//! - [`route`]: the HTTP endpoint.

pub mod encode;
pub mod ledger;
pub mod publisher;
pub mod route;

pub use encode::{MEDIA_TYPE, StatusClaim};
pub use ledger::LIST_SIZE;
pub use publisher::{ListError, StatusLists};

//! Keymint's own access tokens once issued: checking them against current state
//! ([`check`]), introspection (RFC 7662), revocation (RFC 7009, through `manage/`), and
//! the caches that keep those answers exact: the revocation list, key states and the
//! token cache, each following the change feed.

mod check;
mod claims;
pub mod introspect;
mod key_states;
pub mod revocations;
pub mod revoke;
mod token_cache;

pub use check::{Expected, Inactive, Memory, TokenChecker, check_current, verify_claims};
pub use claims::{IssuedClaims, TokenClaims};
pub use introspect::{INTROSPECT_PERMISSION, answer as introspection_answer, introspect};
pub use key_states::KeyStates;
pub use revocations::{RevocationList, Revoked};
pub use revoke::{REVOCATIONS_PER_MINUTE, revoke};
pub use token_cache::{CachedToken, TokenCache, TokenCacheStats, token_hash};

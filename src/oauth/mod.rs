//! OAuth 2.0: the client-credentials token endpoint (RFC 6749 §4.4), introspection
//! (RFC 7662), revocation (RFC 7009) and discovery (RFC 8414 metadata, RFC 7517 JWKS).
//!
//! Shaped by extension point (see `docs/ARCHITECTURE.md`):
//! - [`request`] and [`params`]: every endpoint's request, parsed once at the edge;
//! - [`client_auth`]: how a client proves who it is (one [`client_auth::Credentials`]);
//! - [`grant`]: how a client gets a token (one [`grant::Grant`]), and minting;
//! - [`claims`]: what a token says, and the template a cached key writes them from;
//! - [`tokens`]: issued tokens: checking, introspection, revocation, their caches;
//! - [`discovery`]: metadata and JWKS, listing methods and grants from those enums;
//! - [`state`]: [`OAuthState`], built once.

pub mod claims;
pub mod client_auth;
pub mod discovery;
mod error;
pub mod grant;
pub mod params;
pub mod request;
mod state;
pub mod tokens;

pub use claims::{ClaimsTemplate, FixedClaims};
pub use client_auth::{
    ADDRESS_THRESHOLD, AuthLimiter, Authenticated, CacheStats, CachedKey, Credentials,
    LimiterStats, SIGN_IN_THRESHOLD, VerifiedCache, parse_basic,
};
pub use discovery::{jwks, metadata};
pub use error::{Limit, RefusalReason, TokenError};
pub use grant::endpoint::token;
pub use grant::{IssuedToken, TokenQuota, UsageTracker};
pub use params::{Param, TokenParams, parse_token_body};
pub use request::OAuthRequest;
pub use state::{OAuthParts, OAuthState};
pub use tokens::{
    CachedToken, Expected, INTROSPECT_PERMISSION, Inactive, IssuedClaims, KeyStates, Memory,
    REVOCATIONS_PER_MINUTE, RevocationList, Revoked, TokenCache, TokenCacheStats, TokenChecker,
    TokenClaims, check_current, introspect, introspection_answer, revoke, token_hash,
    verify_claims,
};

//! OAuth 2.0: the client-credentials token endpoint (RFC 6749 §4.4) and discovery
//! (RFC 8414 metadata, RFC 7517 JWKS).

mod access_token;
mod authentication;
mod client_auth;
mod client_request;
mod error;
mod grant;
mod introspect;
mod key_states;
mod limits;
mod metadata;
mod quota;
mod request;
mod revocations;
mod revoke;
mod state;
mod token;
mod token_cache;
mod usage;
mod verified_cache;

pub use access_token::{
    Expected, Inactive, IssuedClaims, Memory, TokenChecker, TokenClaims, check_current,
    verify_claims,
};
pub use authentication::{Authenticated, Authenticator};
pub use client_auth::{ClientCredentials, parse_basic};
pub use client_request::OAuthRequest;
pub use error::TokenError;
pub use grant::{AccessTokenClaims, IssuedToken, TokenRequest, issue_token};
pub use introspect::{INTROSPECT_PERMISSION, answer as introspection_answer, introspect};
pub use key_states::KeyStates;
pub use limits::{ADDRESS_THRESHOLD, AuthLimiter, LimiterStats, SIGN_IN_THRESHOLD};
pub use metadata::{jwks, metadata};
pub use quota::TokenQuota;
pub use request::{TokenParams, parse_token_body};
pub use revocations::{RevocationList, Revoked};
pub use revoke::{REVOCATIONS_PER_MINUTE, revoke};
pub use state::OAuthState;
pub use token::token;
pub use token_cache::{CachedToken, TokenCache, TokenCacheStats, token_hash};
pub use usage::UsageTracker;
pub use verified_cache::{CacheStats, CachedKey, VerifiedCache};

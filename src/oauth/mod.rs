//! OAuth 2.0: the client-credentials token endpoint (RFC 6749 §4.4) and discovery
//! (RFC 8414 metadata, RFC 7517 JWKS).

mod client_auth;
mod error;
mod grant;
mod metadata;
mod request;
mod token;
mod verified_cache;

pub use client_auth::{ClientCredentials, parse_basic};
pub use error::TokenError;
pub use grant::{AccessTokenClaims, GrantContext, IssuedToken, TokenRequest, issue_token};
pub use metadata::{jwks, metadata};
pub use request::{TokenParams, parse_token_body};
pub use token::token;
pub use verified_cache::{CacheStats, CachedKey, VerifiedCache};

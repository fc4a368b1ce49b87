//! Grants (RFC 6749 §4), the extension point for new ways to get a token: [`Grant`] is
//! parsed once from `grant_type` and dispatched to the file of its grant; every grant ends
//! in [`mint`]. A new grant is one [`GrantType`] variant, one [`Grant`] variant and its
//! file; discovery lists it from [`GrantType::ALL`].

mod client_credentials;
pub mod endpoint;
mod mint;
mod quota;
mod usage;

pub use client_credentials::ClientCredentialsGrant;
pub use mint::{IssuedToken, Mint, mint};
pub use quota::TokenQuota;
pub use usage::UsageTracker;

use super::client_auth::Credentials;
use super::params::{Param, TokenParams};
use super::{OAuthState, TokenError};
use crate::domain::EnvironmentName;
use crate::web::SourceAddress;

/// A grant type Keymint accepts (RFC 8414 §2 `grant_types_supported`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    /// RFC 6749 §4.4.
    ClientCredentials,
}

impl GrantType {
    /// Every grant type, as discovery lists them.
    pub const ALL: [Self; 1] = [Self::ClientCredentials];

    /// The registered name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
        }
    }
}

/// A token request's grant, with its own parameters checked.
#[derive(Debug)]
pub enum Grant {
    /// `client_credentials`.
    ClientCredentials(ClientCredentialsGrant),
}

impl Grant {
    /// Reads `grant_type` and the grant's parameters. RFC 6749 §4.4.2: `grant_type` is
    /// REQUIRED.
    pub fn parse(params: &TokenParams) -> Result<Self, TokenError> {
        let Some(name) = params.get(Param::GrantType) else {
            return Err(TokenError::InvalidRequest("grant_type is required".into()));
        };
        match GrantType::ALL.into_iter().find(|g| g.name() == name) {
            Some(GrantType::ClientCredentials) => {
                ClientCredentialsGrant::parse(params).map(Self::ClientCredentials)
            }
            None => Err(TokenError::UnsupportedGrantType),
        }
    }
}

/// A parsed, syntactically valid token request.
#[derive(Debug)]
pub struct TokenRequest {
    /// Environment of the endpoint called.
    pub environment: EnvironmentName,
    /// Presented credentials.
    pub credentials: Credentials,
    /// What the client asks for.
    pub grant: Grant,
}

/// Runs the grant of `request`.
pub async fn issue_token(
    ctx: &OAuthState,
    request: TokenRequest,
    source: SourceAddress,
) -> Result<IssuedToken, TokenError> {
    match &request.grant {
        Grant::ClientCredentials(grant) => {
            grant
                .issue(ctx, &request.environment, &request.credentials, source)
                .await
        }
    }
}

//! The client-credentials grant (RFC 6749 §4.4): the client acts for the key's owner with
//! the key's frozen permissions, or a subset it asks for, towards one served audience.

use super::mint::{IssuedToken, Mint, mint};
use crate::domain::{EnvironmentName, Permissions};
use crate::oauth::client_auth::Credentials;
use crate::oauth::params::{Param, TokenParams};
use crate::oauth::{OAuthState, TokenError};
use crate::web::SourceAddress;

/// A client-credentials request's own parameters, checked.
#[derive(Debug)]
pub struct ClientCredentialsGrant {
    /// Requested scope, `None` for all of the key's permissions.
    pub scope: Option<Permissions>,
    /// Requested audience (`audience` or `resource`).
    pub audience: Option<String>,
}

impl ClientCredentialsGrant {
    /// Reads `scope` (RFC 6749 §3.3) and `audience`/`resource` (RFC 8707).
    pub fn parse(params: &TokenParams) -> Result<Self, TokenError> {
        let scope = params
            .get(Param::Scope)
            .map(Permissions::parse_scope)
            .transpose()
            .map_err(|e| TokenError::InvalidScope(e.to_string()))?
            .filter(|s| !s.is_empty());
        let audience = match (params.get(Param::Audience), params.get(Param::Resource)) {
            (Some(a), Some(r)) if a != r => {
                return Err(TokenError::InvalidRequest(
                    "audience and resource name different targets".into(),
                ));
            }
            (a, r) => a.or(r).map(str::to_owned),
        };
        Ok(Self { scope, audience })
    }

    /// Runs the grant: the audience, the client, the scope, then the token.
    pub async fn issue(
        &self,
        ctx: &OAuthState,
        environment: &EnvironmentName,
        credentials: &Credentials,
        source: SourceAddress,
    ) -> Result<IssuedToken, TokenError> {
        ctx.keys_of(environment)?;
        let served = ctx
            .config
            .environment(environment.as_str())
            .ok_or(TokenError::UnknownEnvironment)?;
        let audience = match &self.audience {
            None => served.audiences[0].as_str(),
            Some(a) if served.audiences.contains(a) => a.as_str(),
            // RFC 8707 §2: an unknown resource is invalid_target.
            Some(_) => {
                return Err(TokenError::InvalidTarget(
                    "the requested audience is not served".into(),
                ));
            }
        };
        let client = ctx
            .client_auth
            .authenticate(environment, credentials, source.0)
            .await?;
        // The key's whole set (asked for or not) towards the default audience is what a
        // credential usually mints: its cached claims template writes it.
        let (granted, usual) = match &self.scope {
            None => (&client.key.permissions, true),
            Some(scope) if *scope == client.key.permissions => (&client.key.permissions, true),
            Some(scope) if scope.is_subset(&client.key.permissions) => (scope, false),
            Some(_) => {
                return Err(TokenError::InvalidScope(
                    "the requested scope exceeds the key's permissions".into(),
                ));
            }
        };
        mint(
            ctx,
            Mint {
                environment,
                served,
                key: &client.key,
                granted,
                audience,
                secret_version: client.secret_version.as_deref(),
                status_index: client.status_index,
                source: source.0,
                template: client
                    .template
                    .as_deref()
                    .filter(|_| usual && audience == served.audiences[0]),
            },
        )
    }
}

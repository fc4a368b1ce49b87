//! Client authentication (RFC 6749 §2.3), the one extension point for new ways a client
//! proves who it is: [`Credentials`] is parsed once at the edge from the `Authorization`
//! header and the body, and [`ClientAuth::authenticate`] verifies it. The endpoints
//! never see how the client authenticated. A new method is one [`AuthMethod`] variant,
//! one [`Credentials`] variant, its parsing below and its verification in a file here;
//! discovery lists it from [`AuthMethod::ALL`].

mod address_refusals;
mod assertion;
mod basic;
mod federation;
mod limits;
mod replay;
mod secret;
mod times;
mod verified_cache;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

pub use address_refusals::AddressRefusals;
pub use assertion::{ALGORITHMS, AssertionAuthenticator, JWT_BEARER};
pub use basic::parse_basic;
pub use limits::{ADDRESS_THRESHOLD, AuthLimiter, LimiterStats, SIGN_IN_THRESHOLD};
pub use secret::{SecretAuthenticator, is_well_formed_client_id};
pub use verified_cache::{CacheStats, CachedKey, VerifiedCache};

use super::claims::TemplateSlot;
use super::params::{Param, TokenParams};
use super::{RefusalReason, TokenError};
use crate::domain::{ApiKey, EnvironmentName};
use crate::secrets::ClientSecret;

/// Longest client id accepted before lookup; ours are 26 characters.
const MAX_CLIENT_ID_LEN: usize = 128;

/// A client-authentication method Keymint accepts (the names of RFC 8414 §2
/// `token_endpoint_auth_methods_supported`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic (RFC 6749 §2.3.1).
    SecretBasic,
    /// `client_id` and `client_secret` in the body (RFC 6749 §2.3.1).
    SecretPost,
    /// A JWT signed with the client's own key (RFC 7523 §2.2, OIDC Core §9).
    PrivateKeyJwt,
}

impl AuthMethod {
    /// Every method, as discovery lists them.
    pub const ALL: [Self; 3] = [Self::SecretBasic, Self::SecretPost, Self::PrivateKeyJwt];

    /// The registered name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SecretBasic => "client_secret_basic",
            Self::SecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// What a client presented to prove who it is.
#[derive(Clone)]
pub enum Credentials {
    /// A client id and secret, by HTTP Basic or in the body.
    Secret {
        /// How they were sent.
        method: AuthMethod,
        /// The presented client id.
        client_id: String,
        /// The presented secret.
        secret: ClientSecret,
    },
    /// A signed client assertion (`private_key_jwt`).
    Assertion {
        /// The `client_id` of the body, when sent (else the assertion's `iss` names it).
        client_id: Option<String>,
        /// The JWT.
        assertion: String,
    },
}

impl Credentials {
    /// The client id the client claims (empty when only its assertion names it).
    pub fn client_id(&self) -> &str {
        match self {
            Self::Secret { client_id, .. } => client_id,
            Self::Assertion { client_id, .. } => client_id.as_deref().unwrap_or_default(),
        }
    }

    /// How the client authenticated.
    pub fn method(&self) -> AuthMethod {
        match self {
            Self::Secret { method, .. } => *method,
            Self::Assertion { .. } => AuthMethod::PrivateKeyJwt,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("method", &self.method())
            .field("client_id", &self.client_id())
            .finish_non_exhaustive()
    }
}

/// A client that proved it holds a key.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The key, in its current state.
    pub key: Arc<ApiKey>,
    /// Fingerprint of the stored secret that matched (the `sv` claim); `None` for a
    /// client that signed an assertion.
    pub secret_version: Option<Arc<str>>,
    /// The status-list index of the credential that authenticated (tokens name it).
    pub status_index: u32,
    /// The claims template of this credential's usual token, kept with its cache entry
    /// (`None` when it was not a cache hit).
    pub template: Option<Arc<TemplateSlot>>,
}

/// Verifies every kind of [`Credentials`]; built once, shared by the endpoints.
pub struct ClientAuth {
    /// The secret methods: check tag, verified cache, argon2id pool, limiter.
    pub secrets: SecretAuthenticator,
    /// Signed assertions: the key's registered keys, the `jti` record.
    pub assertions: AssertionAuthenticator,
    /// Good credentials from outside a key's allow-list, audited.
    pub address_refusals: AddressRefusals,
}

impl ClientAuth {
    /// Authenticates a client of `environment`. Every failure answers the same
    /// `invalid_client` (RFC 6749 §5.2), its reason only logged and counted.
    pub async fn authenticate(
        &self,
        environment: &EnvironmentName,
        credentials: &Credentials,
        source: Option<IpAddr>,
    ) -> Result<Authenticated, TokenError> {
        let client = match credentials {
            Credentials::Secret {
                client_id, secret, ..
            } => {
                self.secrets
                    .authenticate(environment, client_id, secret, source)
                    .await
            }
            Credentials::Assertion {
                client_id,
                assertion,
            } => {
                // Boxed, so a secret's future is not the size of an assertion's.
                Box::pin(
                    self.assertions
                        .authenticate(environment, client_id.as_deref(), assertion),
                )
                .await
            }
        }?;
        // Checked once the credentials are known good, so a refusal here means someone
        // holds them elsewhere: worth an audit entry (see `AddressRefusals`).
        if !client.key.allowed_ips.allows(source) {
            self.address_refusals.note(&client.key, source);
            return Err(secret::refused(
                environment,
                &client.key.client_id,
                RefusalReason::IpNotAllowed,
            ));
        }
        Ok(client)
    }
}

/// Picks the client's credentials from the `Authorization` header and the body
/// (RFC 6749 §2.3: exactly one method).
pub fn parse_credentials(
    authorization: Option<&str>,
    params: &TokenParams,
    realm: &str,
) -> Result<Credentials, TokenError> {
    let invalid_client = || TokenError::InvalidClient {
        realm: realm.to_owned(),
        reason: RefusalReason::OtherAuthScheme,
    };
    let basic = match authorization {
        Some(value) => match parse_basic(value) {
            Ok(Some(pair)) => Some(pair),
            Ok(None) => return Err(invalid_client()),
            Err(message) => return Err(TokenError::InvalidRequest(message.into())),
        },
        None => None,
    };
    let body_id = params.get(Param::ClientId);
    let body_secret = params.get(Param::ClientSecret);
    let assertion_type = params.get(Param::ClientAssertionType);
    let assertion = params.get(Param::ClientAssertion);
    if assertion_type.is_some() || assertion.is_some() {
        // RFC 6749 §2.3: a client MUST NOT use more than one authentication method.
        if basic.is_some() || body_secret.is_some() {
            return Err(TokenError::InvalidRequest(
                "use one client authentication method: a client assertion, HTTP Basic or client_secret, not several".into(),
            ));
        }
        // RFC 7521 §4.2: both parameters, and the one type Keymint accepts (RFC 7523 §2.2).
        let (Some(kind), Some(assertion)) = (assertion_type, assertion) else {
            return Err(TokenError::InvalidRequest(
                "client_assertion and client_assertion_type go together".into(),
            ));
        };
        if kind != JWT_BEARER {
            return Err(TokenError::InvalidRequest(format!(
                "client_assertion_type must be {JWT_BEARER}"
            )));
        }
        if body_id.is_some_and(|id| id.len() > MAX_CLIENT_ID_LEN) {
            return Err(invalid_client());
        }
        return Ok(Credentials::Assertion {
            client_id: body_id.map(str::to_owned),
            assertion: assertion.to_owned(),
        });
    }
    let (method, client_id, secret) = match (basic, body_id, body_secret) {
        (Some(_), _, Some(_)) => {
            // RFC 6749 §2.3: a client MUST NOT use more than one authentication method.
            return Err(TokenError::InvalidRequest(
                "use either HTTP Basic or client_id/client_secret in the body, not both".into(),
            ));
        }
        (Some((id, _)), Some(body_id), None) if body_id != id => {
            return Err(TokenError::InvalidRequest(
                "client_id in the body differs from HTTP Basic".into(),
            ));
        }
        (Some((id, secret)), _, None) => (AuthMethod::SecretBasic, id, secret),
        (None, Some(id), Some(secret)) => {
            (AuthMethod::SecretPost, id.to_owned(), secret.to_owned())
        }
        (None, _, _) => return Err(invalid_client()),
    };
    if client_id.len() > MAX_CLIENT_ID_LEN {
        return Err(invalid_client());
    }
    Ok(Credentials::Secret {
        method,
        client_id,
        secret: ClientSecret::new(secret),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn both_methods_are_invalid_request() {
        let params = TokenParams::default()
            .with(Param::ClientId, "a")
            .with(Param::ClientSecret, "b");
        let err = parse_credentials(Some(&basic("a", "b")), &params, "r").unwrap_err();
        assert_eq!(err.code(), "invalid_request");
    }

    #[test]
    fn each_method_is_recognised() {
        let basic_only = parse_credentials(Some(&basic("a", "b")), &TokenParams::default(), "r");
        assert_eq!(basic_only.unwrap().method(), AuthMethod::SecretBasic);
        let params = TokenParams::default()
            .with(Param::ClientId, "a")
            .with(Param::ClientSecret, "b");
        let post = parse_credentials(None, &params, "r").unwrap();
        assert_eq!(
            (post.method(), post.client_id()),
            (AuthMethod::SecretPost, "a")
        );
        let none = parse_credentials(None, &TokenParams::default(), "r").unwrap_err();
        assert_eq!(none.code(), "invalid_client");
    }
}

//! Token endpoint errors in the shape of RFC 6749 §5.2.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why client authentication failed: logged and counted (the `reason` label of
/// `keymint_token_requests_total`), never sent to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// No credentials Keymint accepts (another `Authorization` scheme, or none).
    OtherAuthScheme,
    /// No such client id.
    UnknownClient,
    /// The secret is not the key's.
    WrongSecret,
    /// The key belongs to another environment.
    WrongEnvironment,
    /// The key is disabled.
    KeyDisabled,
    /// The key has expired.
    KeyExpired,
    /// The key's owner is inactive.
    OwnerInactive,
    /// The client used a method its key does not have (a secret for a key without one,
    /// an assertion for a key with a secret).
    WrongAuthMethod,
    /// The client assertion is not a JWT, or lacks `jti`.
    AssertionMalformed,
    /// The assertion's `alg` is not one Keymint accepts (`none` and HMAC never are).
    AssertionAlgorithm,
    /// The assertion's signature does not verify with the key's registered keys (or
    /// names a key they do not hold).
    AssertionSignature,
    /// The assertion has expired, is not yet valid, or has no `exp`.
    AssertionExpired,
    /// The assertion lives longer than an hour (`exp` - `iat`).
    AssertionLifetime,
    /// The assertion's `aud` is neither the issuer nor the token endpoint.
    AssertionAudience,
    /// The assertion's `iss` or `sub` is not the client id.
    AssertionIssuer,
    /// The assertion's `jti` was seen before (at any instance).
    AssertionReplayed,
    /// The client's published keys (or an outside issuer's) could not be fetched.
    ClientKeysUnavailable,
    /// An outside token's issuer, subject or a claim is not what the key's rule says.
    FederationMismatch,
    /// Good credentials from an address outside the key's allow-list.
    IpNotAllowed,
}

impl RefusalReason {
    /// The metric label.
    pub const fn label(self) -> &'static str {
        match self {
            Self::OtherAuthScheme => "other_auth_scheme",
            Self::UnknownClient => "unknown_client",
            Self::WrongSecret => "wrong_secret",
            Self::WrongEnvironment => "wrong_environment",
            Self::KeyDisabled => "key_disabled",
            Self::KeyExpired => "key_expired",
            Self::OwnerInactive => "owner_inactive",
            Self::WrongAuthMethod => "wrong_auth_method",
            Self::AssertionMalformed => "assertion_malformed",
            Self::AssertionAlgorithm => "assertion_algorithm",
            Self::AssertionSignature => "assertion_signature",
            Self::AssertionExpired => "assertion_expired",
            Self::AssertionLifetime => "assertion_lifetime",
            Self::AssertionAudience => "assertion_audience",
            Self::AssertionIssuer => "assertion_issuer",
            Self::AssertionReplayed => "assertion_replayed",
            Self::ClientKeysUnavailable => "jwks_unavailable",
            Self::FederationMismatch => "federation_mismatch",
            Self::IpNotAllowed => "ip_not_allowed",
        }
    }
}

/// What a 429 exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The key's token quota.
    TokenQuota,
    /// The key's revocation quota.
    RevocationQuota,
    /// Failed authentications from the source address.
    AddressLocked,
}

impl Limit {
    /// What the caller is told (names no client and no secret).
    pub const fn message(self) -> &'static str {
        match self {
            Self::TokenQuota => "this key is over its token quota",
            Self::RevocationQuota => "revocation quota of this key exceeded",
            Self::AddressLocked => "too many failed authentications from this address",
        }
    }

    /// The metric label.
    pub const fn label(self) -> &'static str {
        match self {
            Self::TokenQuota | Self::RevocationQuota => "key_quota",
            Self::AddressLocked => "address_locked",
        }
    }
}

/// A refusal of the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The environment in the path is not served.
    #[error("unknown environment")]
    UnknownEnvironment,
    /// Malformed request (RFC 6749 §5.2 `invalid_request`).
    #[error("{0}")]
    InvalidRequest(String),
    /// The body is larger than any token request (413, `invalid_request`).
    #[error("the request body exceeds {} bytes", crate::web::MAX_BODY_BYTES)]
    TooLarge,
    /// Client authentication failed. Never says why: unknown client, wrong secret,
    /// disabled or expired key, inactive owner and wrong environment look the same.
    #[error("client authentication failed")]
    InvalidClient {
        /// The realm for `WWW-Authenticate`.
        realm: String,
        /// Why, for metrics and logs only; never sent.
        reason: RefusalReason,
    },
    /// `grant_type` is not `client_credentials`.
    #[error("only grant_type=client_credentials is supported")]
    UnsupportedGrantType,
    /// Scope malformed or beyond the key's permissions.
    #[error("{0}")]
    InvalidScope(String),
    /// Audience/resource not served (RFC 8707 §2).
    #[error("{0}")]
    InvalidTarget(String),
    /// A refresh token was named (RFC 7009 §2.2.1); Keymint issues none.
    #[error("Keymint issues no refresh tokens")]
    UnsupportedTokenType,
    /// Overload or a dependency down; retry later.
    #[error("the service is temporarily unavailable, retry shortly")]
    TemporarilyUnavailable,
    /// Too many requests (RFC 6585 §4): a locked source address or a key over its token
    /// quota. `retry_after` is whole seconds.
    #[error("{}; retry after {} s", limit.message(), retry_after.as_secs())]
    TooManyRequests {
        /// What was exceeded.
        limit: Limit,
        /// When to retry.
        retry_after: std::time::Duration,
    },
}

impl TokenError {
    /// The `outcome` and `reason` labels of `keymint_token_requests_total`.
    pub fn metric_labels(&self) -> (&'static str, &'static str) {
        match self {
            Self::InvalidClient { reason, .. } => ("invalid_client", reason.label()),
            Self::TooManyRequests { limit, .. } => ("rate_limited", limit.label()),
            Self::UnknownEnvironment => ("invalid_request", "unknown_environment"),
            Self::TooLarge => ("invalid_request", "body_too_large"),
            other => (other.code(), "none"),
        }
    }

    /// The RFC 6749 §5.2 error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownEnvironment | Self::InvalidRequest(_) | Self::TooLarge => {
                "invalid_request"
            }
            Self::InvalidClient { .. } => "invalid_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::TemporarilyUnavailable | Self::TooManyRequests { .. } => {
                "temporarily_unavailable"
            }
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::UnknownEnvironment => StatusCode::NOT_FOUND,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidClient { .. } => StatusCode::UNAUTHORIZED,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        // RFC 6749 §5.1/§5.2: token responses must not be cached.
        let mut response = crate::web::errors::oauth(self.status(), self.code(), &self.to_string());
        let headers = response.headers_mut();
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        match &self {
            // RFC 9110 §15.5.2: a 401 MUST carry WWW-Authenticate; RFC 6749 §5.2 names Basic.
            Self::InvalidClient { realm, .. } => {
                if let Ok(v) =
                    HeaderValue::from_str(&format!("Basic realm=\"{realm}\", charset=\"UTF-8\""))
                {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            Self::TemporarilyUnavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::TooManyRequests { retry_after, .. } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after.as_secs().max(1)),
                );
            }
            _ => {}
        }
        response
    }
}

//! A verifier for Rust resource servers: give it an issuer URL
//! (`https://keymint.example/production`), it discovers the metadata, fetches and caches
//! the JWKS through [`jwks`] (for its `max-age`, so a withdrawn key stops
//! verifying; refetching on an unknown `kid`, at most every 10 s), and validates Keymint
//! access tokens as a gateway should: `typ`, signature, `iss`, `aud`, `exp`/`nbf` with a
//! small leeway, and `env`; a token naming a status list is refused once its bit is set
//! ([`status`]: the list fetched, verified and cached for its `ttl`, failing closed past a
//! bound). [`layer`] turns it into an axum middleware that requires a permission on a
//! route.

pub mod jwks;
pub mod layer;
pub mod status;
mod user_tokens;

pub use user_tokens::{IdpClaims, UserTokenVerifier};

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::domain::Permissions;
use jwks::JwksClient;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// Why a token (or the verifier's set-up) was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The issuer's metadata or keys could not be fetched.
    #[error("issuer unavailable: {0}")]
    Unavailable(String),
    /// The token is not valid; the message says why.
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// The claims of a valid token.
#[derive(Debug, Clone, Deserialize)]
pub struct VerifiedToken {
    /// The user on whose behalf the token acts.
    pub sub: String,
    /// The API key that obtained it.
    pub client_id: String,
    /// Environment.
    pub env: String,
    /// Token id.
    pub jti: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Granted scope (space-separated).
    #[serde(default)]
    pub scope: String,
    /// Granted permissions.
    #[serde(default)]
    permissions: Vec<String>,
    /// Where the token's status is (draft-ietf-oauth-status-list §6.1).
    #[serde(default)]
    status: Option<status::StatusClaim>,
}

impl VerifiedToken {
    /// The granted permissions as a set.
    pub fn permissions(&self) -> Permissions {
        Permissions::parse(&self.permissions).unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

/// See the module documentation.
pub struct Verifier {
    issuer: String,
    env: String,
    audience: String,
    jwks: JwksClient,
    status: status::StatusReader,
    clock: Arc<dyn Clock>,
}

impl Verifier {
    /// Discovers `issuer` (`{public URL}/{env}`) and fetches its keys. Tokens must carry
    /// `audience` (by default Keymint's default audience, the issuer itself).
    pub async fn discover(issuer: &str, audience: Option<&str>) -> Result<Self, VerifyError> {
        Self::discover_with_clock(issuer, audience, Arc::new(SystemClock)).await
    }

    /// Like [`Self::discover`], with the clock that times the JWKS cache.
    pub async fn discover_with_clock(
        issuer: &str,
        audience: Option<&str>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, VerifyError> {
        let issuer = issuer.trim_end_matches('/').to_owned();
        let (base, env) = issuer.rsplit_once('/').ok_or_else(|| {
            VerifyError::Unavailable("issuer must end with /<environment>".into())
        })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let unavailable = |e: reqwest::Error| VerifyError::Unavailable(e.to_string());
        let metadata: Metadata = http
            .get(format!(
                "{base}/.well-known/oauth-authorization-server/{env}"
            ))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        // RFC 8414 §3.3: the issuer in the metadata MUST be identical to the one asked for.
        if metadata.issuer != issuer {
            return Err(VerifyError::Unavailable(format!(
                "metadata names issuer {}",
                metadata.issuer
            )));
        }
        let jwks = JwksClient::new(&metadata.jwks_uri, Arc::clone(&clock))
            .map_err(|e| VerifyError::Unavailable(e.to_string()))?;
        jwks.prefetch()
            .await
            .map_err(|e| VerifyError::Unavailable(e.to_string()))?;
        Ok(Self {
            audience: audience.unwrap_or(&issuer).to_owned(),
            env: env.to_owned(),
            status: status::StatusReader::new(
                &issuer,
                Arc::clone(&clock),
                status::DEFAULT_STATUS_BOUND,
            ),
            clock,
            issuer,
            jwks,
        })
    }

    /// How long a status list that cannot be fetched keeps deciding past its last
    /// successful fetch (default five minutes); after it, tokens naming the list are
    /// refused as unverifiable (503 from the layer).
    pub fn with_status_bound(mut self, bound: Duration) -> Self {
        self.status = status::StatusReader::new(&self.issuer, Arc::clone(&self.clock), bound);
        self
    }

    /// The issuer this verifier trusts.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Validates `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, VerifyError> {
        let invalid = |m: &str| VerifyError::Invalid(m.to_owned());
        let header = decode_header(token).map_err(|_| invalid("malformed"))?;
        // RFC 9068 §4: reject JWTs that are not access tokens.
        if header.typ.as_deref() != Some("at+jwt") {
            return Err(invalid("typ is not at+jwt"));
        }
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(invalid("symmetric algorithms are not accepted"));
        }
        let kid = header.kid.ok_or_else(|| invalid("no kid"))?;
        let key = self
            .jwks
            .key(&kid)
            .await
            .map_err(|e| VerifyError::Unavailable(e.to_string()))?
            .ok_or_else(|| invalid("signed with a key the issuer does not publish"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let claims = decode::<VerifiedToken>(token, &key, &validation)
            .map_err(|e| VerifyError::Invalid(e.to_string()))?
            .claims;
        if claims.env != self.env {
            return Err(invalid("token of another environment"));
        }
        if let Some(status) = &claims.status {
            self.status.check(&status.status_list, &self.jwks).await?;
        }
        Ok(claims)
    }
}

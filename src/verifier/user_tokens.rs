//! Session tokens of the organisation's identity provider (`KEYMINT_USER_TOKEN_ISSUER`,
//! `KEYMINT_USER_TOKEN_JWKS_URL`, `KEYMINT_USER_TOKEN_AUDIENCE`), verified through the
//! shared [`JwksClient`]. Only tokens the IdP issued *for Keymint* are accepted: the
//! audience is required, and `azp` and `typ`, where present, must fit, so an ID token the
//! IdP issued to another application is refused.

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde::Deserialize;
use std::sync::Arc;

use crate::clock::Clock;
use crate::verifier::jwks::{JwksClient, JwksError};

/// `typ` values of JWTs that can be session tokens: ID tokens (`JWT`, or none) and
/// access tokens (RFC 9068). Anything else (logout, security-event, DPoP proofs ...) is
/// another kind of JWT.
const SESSION_TYPES: [&str; 3] = ["jwt", "at+jwt", "application/at+jwt"];

/// Verifies session tokens against the IdP's published keys.
pub struct UserTokenVerifier {
    issuer: String,
    audience: String,
    jwks: JwksClient,
}

#[derive(Deserialize)]
struct SessionClaims {
    sub: String,
    /// OpenID Connect Core §2: the party the token was issued to.
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// What a verified identity-provider token says.
#[derive(Debug)]
pub struct IdpClaims {
    /// The person.
    pub sub: String,
    /// The ID token's `nonce`, if it has one.
    pub nonce: Option<String>,
}

impl UserTokenVerifier {
    /// A verifier for tokens of `issuer` for `audience`, signed with keys at `jwks_url`
    /// (https, or http on loopback).
    pub fn new(
        issuer: String,
        jwks_url: &str,
        audience: String,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, JwksError> {
        Ok(Self {
            issuer,
            audience,
            jwks: JwksClient::new(jwks_url, clock)?,
        })
    }

    /// The token's `sub` when it is valid.
    pub async fn verify(&self, token: &str) -> Result<String, String> {
        self.verify_claims(token).await.map(|claims| claims.sub)
    }

    /// The token's claims when it is valid: signed by a key of the provider's JWKS with an
    /// asymmetric algorithm, from the issuer, for the audience (and, with `azp`, issued to
    /// it: OpenID Connect Core §3.1.3.7 items 2-5, 9), unexpired.
    pub async fn verify_claims(&self, token: &str) -> Result<IdpClaims, String> {
        let header = decode_header(token).map_err(|_| "malformed token".to_owned())?;
        // Only asymmetric algorithms: an HMAC "signature" keyed with a public key is forgeable.
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err("symmetric algorithms are not accepted".into());
        }
        if let Some(typ) = &header.typ
            && !SESSION_TYPES.contains(&typ.to_ascii_lowercase().as_str())
        {
            return Err(format!("a {typ} token is not a session token"));
        }
        let kid = header.kid.ok_or("token has no kid")?;
        let key = match self.jwks.key(&kid).await {
            Ok(Some(key)) => key,
            Ok(None) => return Err("unknown signing key".into()),
            Err(e) => {
                tracing::warn!(error = %e, "identity provider keys unavailable");
                return Err("identity provider keys unavailable".into());
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        validation.validate_nbf = true;
        let claims = decode::<SessionClaims>(token, &key, &validation)
            .map_err(|e| format!("{e}"))?
            .claims;
        if claims.azp.as_ref().is_some_and(|azp| *azp != self.audience) {
            return Err("the token was issued to another application (azp)".into());
        }
        Ok(IdpClaims {
            sub: claims.sub,
            nonce: claims.nonce,
        })
    }
}

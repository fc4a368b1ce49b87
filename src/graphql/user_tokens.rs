//! Session tokens of the organisation's identity provider (`KEYMINT_USER_TOKEN_ISSUER`,
//! `KEYMINT_USER_TOKEN_JWKS_URL`): the JWKS is fetched, cached, and refetched when a token
//! names an unknown `kid` (at most once per 10 s, so garbage tokens cannot hammer the IdP).

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{Mutex, RwLock};

use crate::clock::Clock;

const MIN_REFETCH: time::Duration = time::Duration::seconds(10);

/// Verifies session tokens against the IdP's published keys.
pub struct UserTokenVerifier {
    issuer: String,
    jwks_url: String,
    audience: Option<String>,
    http: reqwest::Client,
    jwks: RwLock<JwkSet>,
    last_fetch: Mutex<Option<OffsetDateTime>>,
    clock: Arc<dyn Clock>,
}

#[derive(Deserialize)]
struct SessionClaims {
    sub: String,
}

impl UserTokenVerifier {
    /// A verifier for tokens of `issuer` signed with keys at `jwks_url`; when `audience`
    /// is given the token's `aud` must contain it.
    pub fn new(
        issuer: String,
        jwks_url: String,
        audience: Option<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            issuer,
            jwks_url,
            audience,
            http,
            jwks: RwLock::new(JwkSet { keys: Vec::new() }),
            last_fetch: Mutex::new(None),
            clock,
        }
    }

    /// The token's `sub` when it is valid.
    pub async fn verify(&self, token: &str) -> Result<String, String> {
        let header = decode_header(token).map_err(|_| "malformed token".to_owned())?;
        // Only asymmetric algorithms: an HMAC "signature" keyed with a public key is forgeable.
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err("symmetric algorithms are not accepted".into());
        }
        let kid = header.kid.ok_or("token has no kid")?;
        let key = match self.find(&kid).await {
            Some(key) => key,
            None => {
                self.refresh().await?;
                self.find(&kid).await.ok_or("unknown signing key")?
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        match &self.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.validate_nbf = true;
        let claims =
            decode::<SessionClaims>(token, &key, &validation).map_err(|e| format!("{e}"))?;
        Ok(claims.claims.sub)
    }

    async fn find(&self, kid: &str) -> Option<DecodingKey> {
        let jwks = self.jwks.read().await;
        jwks.find(kid)
            .and_then(|jwk| DecodingKey::from_jwk(jwk).ok())
    }

    async fn refresh(&self) -> Result<(), String> {
        let mut last = self.last_fetch.lock().await;
        let now = self.clock.now();
        if last.is_some_and(|at| now - at < MIN_REFETCH) {
            return Err("unknown signing key".into());
        }
        *last = Some(now);
        let fetched: JwkSet = async {
            self.http.get(&self.jwks_url).send().await?.error_for_status()?.json().await
        }
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, url = %self.jwks_url, "fetching the identity provider's JWKS failed");
            "identity provider keys unavailable".to_owned()
        })?;
        *self.jwks.write().await = fetched;
        Ok(())
    }
}

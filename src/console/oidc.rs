//! The console as an OpenID Connect relying party (authorization code flow, OpenID
//! Connect Core §3.1, with PKCE, RFC 7636): the provider's endpoints come from its
//! discovery document (OpenID Connect Discovery §4), fetched on the first sign-in and kept;
//! the ID token is verified through the provider's JWKS by the same verifier as the
//! management API's session tokens. The flow's pages are in `oidc_flow.rs`.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

use crate::clock::Clock;
use crate::config::ConsoleOidcConfig;
use crate::verifier::UserTokenVerifier;
use crate::verifier::jwks::{JwksError, is_loopback_url, read_capped};

/// Largest discovery document or token response read. Real ones are a few KiB.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Why a sign-in could not finish (the message is for the person and the log; it never
/// holds a code, a token or a secret).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered nonsense.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the code (used already, expired, or not for this verifier).
    #[error("the identity provider refused the sign-in code: {0}")]
    Refused(String),
    /// The ID token failed a check.
    #[error("the identity provider's answer failed a check: {0}")]
    InvalidToken(String),
}

/// The provider's endpoints, from its discovery document.
struct Provider {
    authorization_endpoint: String,
    token_endpoint: String,
    id_tokens: UserTokenVerifier,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
}

/// The console's client at the identity provider.
pub struct OidcClient {
    config: ConsoleOidcConfig,
    redirect_uri: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    provider: RwLock<Option<Arc<Provider>>>,
}

impl OidcClient {
    /// A client for `config`, whose redirect URI is `{public_url}/console/callback`.
    pub fn new(config: ConsoleOidcConfig, public_url: &str, clock: Arc<dyn Clock>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            // An endpoint that redirects elsewhere is not followed with a code in hand.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            config,
            redirect_uri: format!("{public_url}/console/callback"),
            http,
            clock,
            provider: RwLock::new(None),
        }
    }

    /// The issuer (for the `iss` parameter check of RFC 9207).
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Where to send the browser to sign in (OpenID Connect Core §3.1.2.1).
    pub async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        code_verifier: &str,
    ) -> Result<String, OidcError> {
        let provider = self.provider().await?;
        let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, code_verifier.as_bytes()));
        let params = [
            ("response_type", "code"),
            ("client_id", self.config.client_id.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("scope", "openid"),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", challenge.as_str()),
            // RFC 7636 §4.3: S256, never plain.
            ("code_challenge_method", "S256"),
        ];
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
            .collect();
        let endpoint = &provider.authorization_endpoint;
        let joiner = if endpoint.contains('?') { '&' } else { '?' };
        Ok(format!("{endpoint}{joiner}{}", query.join("&")))
    }

    /// Exchanges `code` at the token endpoint and verifies the ID token (signature through
    /// the provider's JWKS, `iss`, `aud`, `azp`, `exp`, and `nonce`: OpenID Connect Core
    /// §3.1.3.7); answers its `sub`.
    pub async fn sign_in(
        &self,
        code: &str,
        code_verifier: &str,
        nonce: &str,
    ) -> Result<String, OidcError> {
        let provider = self.provider().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", code_verifier),
        ];
        let mut request = self.http.post(&provider.token_endpoint);
        match &self.config.client_secret {
            // RFC 6749 §2.3.1: each part form-encoded, then HTTP Basic.
            Some(secret) => {
                let user = form_encode(&self.config.client_id);
                let password = form_encode(secret);
                request = request.basic_auth(user, Some(password));
            }
            None => form.push(("client_id", self.config.client_id.as_str())),
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let response = request
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| OidcError::Unavailable(format!("the token endpoint: {e}")))?;
        let status = response.status();
        let bytes = read_capped(response, MAX_RESPONSE_BYTES, "the token response")
            .await
            .map_err(|JwksError(e)| OidcError::Unavailable(e))?;
        if status.is_client_error() {
            let error = serde_json::from_slice::<TokenError>(&bytes)
                .map_or_else(|_| format!("HTTP {status}"), |e| e.error);
            return Err(OidcError::Refused(error));
        }
        if !status.is_success() {
            return Err(OidcError::Unavailable(format!(
                "the token endpoint answered HTTP {status}"
            )));
        }
        let id_token = serde_json::from_slice::<TokenResponse>(&bytes)
            .ok()
            .and_then(|r| r.id_token)
            .ok_or_else(|| OidcError::Unavailable("the token response has no id_token".into()))?;
        let claims = provider
            .id_tokens
            .verify_claims(&id_token)
            .await
            .map_err(OidcError::InvalidToken)?;
        // §3.1.3.7 item 11: the nonce sent in the authentication request.
        let nonce_matches = claims.nonce.as_deref().is_some_and(|given| {
            aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), nonce.as_bytes())
                .is_ok()
        });
        if !nonce_matches {
            return Err(OidcError::InvalidToken(
                "the ID token's nonce is not this sign-in's".into(),
            ));
        }
        Ok(claims.sub)
    }

    /// The discovered provider, fetching the discovery document on first use (and again
    /// after a failure).
    async fn provider(&self) -> Result<Arc<Provider>, OidcError> {
        if let Some(provider) = self.provider.read().await.as_ref() {
            return Ok(Arc::clone(provider));
        }
        let mut slot = self.provider.write().await;
        if let Some(provider) = slot.as_ref() {
            return Ok(Arc::clone(provider));
        }
        let provider = Arc::new(self.discover().await?);
        *slot = Some(Arc::clone(&provider));
        Ok(provider)
    }

    async fn discover(&self) -> Result<Provider, OidcError> {
        let url = format!("{}/.well-known/openid-configuration", self.config.issuer);
        let unavailable = |e: String| OidcError::Unavailable(format!("{url}: {e}"));
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable(e.to_string()))?;
        let bytes = read_capped(response, MAX_RESPONSE_BYTES, "the discovery document")
            .await
            .map_err(|JwksError(e)| unavailable(e))?;
        let found: Discovery =
            serde_json::from_slice(&bytes).map_err(|e| unavailable(e.to_string()))?;
        // OpenID Connect Discovery §4.3: the issuer MUST be identical to the one asked.
        if found.issuer.trim_end_matches('/') != self.config.issuer {
            return Err(unavailable(format!(
                "it names the issuer {}, not {}",
                found.issuer, self.config.issuer
            )));
        }
        for endpoint in [&found.authorization_endpoint, &found.token_endpoint] {
            if !(endpoint.starts_with("https://")
                || (endpoint.starts_with("http://") && is_loopback_url(endpoint)))
            {
                return Err(unavailable(format!("{endpoint} is not an https:// URL")));
            }
        }
        let id_tokens = UserTokenVerifier::new(
            found.issuer.clone(),
            &found.jwks_uri,
            self.config.client_id.clone(),
            Arc::clone(&self.clock),
        )
        .map_err(|JwksError(e)| unavailable(e))?;
        Ok(Provider {
            authorization_endpoint: found.authorization_endpoint,
            token_endpoint: found.token_endpoint,
            id_tokens,
        })
    }
}

/// `application/x-www-form-urlencoded` of one value.
fn form_encode(value: &str) -> String {
    utf8_percent_encode(value, NON_ALPHANUMERIC).to_string()
}

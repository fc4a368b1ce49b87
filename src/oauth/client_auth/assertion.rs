//! `private_key_jwt` (RFC 7523 §2.2 and §3, OIDC Core §9): the client signs a short JWT
//! with its own private key; Keymint verifies it with the public keys the key registered
//! (stored, or published at a URL it fetches through the shared JWKS client), and accepts
//! each `jti` once across every instance (the store's insert decides). Every failure is
//! the same `invalid_client`; the reason is logged and counted.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Authenticated;
use super::federation::FederatedTokens;
use super::replay::ReplayLedger;
use super::secret::{check_state, is_well_formed_client_id, refused};
use super::times::{LEEWAY, Times, check_times};
use crate::changes::ChangeFeed;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{ClientId, ClientKeys, EnvironmentName, KeyAuth, KeyCredentials};
use crate::oauth::tokens::KeyStates;
use crate::oauth::{RefusalReason as Refusal, TokenError};
use crate::store::Store;
use crate::verifier::jwks::JwksClient;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The signature algorithms accepted, as discovery lists them. Never `none`, never HMAC
/// (a client has no shared secret, and HMAC keyed with a public key is a known forgery).
pub const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];
/// Longest `jti` stored.
const MAX_JTI_LEN: usize = 256;
/// JWKS URLs whose clients are kept (each caches its keys); past this the map starts over.
const MAX_URLS: usize = 10_000;

/// The claims of an assertion, read after its signature verified.
#[derive(Deserialize)]
struct Claims {
    #[serde(flatten)]
    times: Times,
    jti: Option<String>,
}

/// The claims read before verification, only to find the key (`iss` = the client id
/// when the request names none).
#[derive(Deserialize)]
struct Unverified {
    iss: Option<String>,
}

/// Authenticates clients by signed assertion; built once, shared by the endpoints.
pub struct AssertionAuthenticator {
    /// Key storage and the `jti` record.
    pub store: Arc<dyn Store>,
    /// Issuer URLs (the accepted audiences).
    pub config: Arc<Config>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// One JWKS client per published URL.
    urls: Mutex<HashMap<String, Arc<JwksClient>>>,
    /// Outside tokens of federated keys.
    federated: FederatedTokens,
    /// Keys as last read (the token checks' cache, kept exact by the change feed).
    key_states: Arc<KeyStates>,
    /// The feed: whether memory may be trusted, and the generation guarding inserts.
    changes: Arc<ChangeFeed>,
    /// The `jti`s seen, written in batches.
    ledger: Arc<ReplayLedger>,
}

impl AssertionAuthenticator {
    /// An authenticator over `store`, remembering keys in `key_states`.
    pub fn new(
        store: Arc<dyn Store>,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        key_states: Arc<KeyStates>,
        changes: Arc<ChangeFeed>,
    ) -> Self {
        Self {
            federated: FederatedTokens::new(Arc::clone(&config), Arc::clone(&clock)),
            key_states,
            changes,
            ledger: ReplayLedger::new(Arc::clone(&store)),
            store,
            config,
            clock,
            urls: Mutex::new(HashMap::new()),
        }
    }

    /// Counts requests of federated keys whose outside token was remembered.
    pub fn remembered_outside_tokens(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.federated.remembered_hits()
    }

    /// Authenticates the client of `environment` that sent `assertion` (and `client_id`,
    /// when it did).
    pub async fn authenticate(
        &self,
        environment: &EnvironmentName,
        client_id: Option<&str>,
        assertion: &str,
    ) -> Result<Authenticated, TokenError> {
        let named = client_id.map(str::to_owned);
        let fallback = || ClientId::new(client_id.unwrap_or_default().to_owned());
        let Ok(header) = jsonwebtoken::decode_header(assertion) else {
            return Err(refused(
                environment,
                &fallback(),
                Refusal::AssertionMalformed,
            ));
        };
        if !ALGORITHMS.contains(&header.alg) {
            return Err(refused(
                environment,
                &fallback(),
                Refusal::AssertionAlgorithm,
            ));
        }
        let Some(client_id) = named.or_else(|| unverified_issuer(assertion)) else {
            return Err(refused(
                environment,
                &fallback(),
                Refusal::AssertionMalformed,
            ));
        };
        let client_id = ClientId::new(client_id);
        let fail = |reason| Err(refused(environment, &client_id, reason));
        if !is_well_formed_client_id(client_id.as_str()) {
            return fail(Refusal::UnknownClient);
        }
        let creds = match self.credentials(&client_id).await {
            Ok(Some(creds)) => creds,
            Ok(None) => return fail(Refusal::UnknownClient),
            Err(e) => {
                tracing::warn!(error = %e, "credential lookup failed");
                return Err(TokenError::TemporarilyUnavailable);
            }
        };
        let now = self.clock.now();
        let keys = match &creds.key.auth {
            KeyAuth::ClientKeys(keys) => keys,
            KeyAuth::Federated(rule) => {
                if let Err(reason) = check_state(environment, &creds.key, creds.owner_active, now) {
                    return fail(reason);
                }
                let verdict = self
                    .federated
                    .verify(
                        assertion,
                        header.alg,
                        header.kid.as_deref(),
                        &client_id,
                        rule,
                        environment,
                        now,
                    )
                    .await;
                return match verdict {
                    // The outside token may buy several access tokens while it lives (a
                    // projected service-account token is reused until rotated); it is bound
                    // to its issuer's hour at most, not to one use.
                    Ok(()) => Ok(Authenticated {
                        key: Arc::new(creds.key.clone()),
                        secret_version: None,
                        status_index: creds.key.status_index,
                        template: None,
                    }),
                    Err(reason) => fail(reason),
                };
            }
            KeyAuth::Secret => return fail(Refusal::WrongAuthMethod),
        };
        if let Err(reason) = check_state(environment, &creds.key, creds.owner_active, now) {
            return fail(reason);
        }
        let key = match self
            .decoding_key(keys, header.kid.as_deref(), header.alg)
            .await
        {
            Ok(key) => key,
            Err(reason) => return fail(reason),
        };
        let claims = match self.verify(assertion, &key, header.alg, environment, &client_id) {
            Ok(claims) => claims,
            Err(reason) => return fail(reason),
        };
        let expires_at = match check_times(&claims.times, now) {
            Ok(at) => at,
            Err(reason) => return fail(reason),
        };
        let Some(jti) = claims
            .jti
            .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_LEN)
        else {
            return fail(Refusal::AssertionMalformed);
        };
        // RFC 7523 §3 (7): the jti is accepted once; the insert decides across instances.
        match self
            .ledger
            .record(client_id.as_str(), &jti, expires_at + LEEWAY)
            .await
        {
            Ok(true) => {}
            Ok(false) => return fail(Refusal::AssertionReplayed),
            Err(e) => {
                tracing::warn!(error = %e, "recording a client assertion failed");
                return Err(TokenError::TemporarilyUnavailable);
            }
        }
        Ok(Authenticated {
            key: Arc::new(creds.key.clone()),
            secret_version: None,
            status_index: creds.key.status_index,
            template: None,
        })
    }

    /// The key as remembered, or read and remembered (unless a change was published
    /// meanwhile). Past `KEYMINT_MAX_STALENESS` without confirming the feed, memory may
    /// predate a disable this instance has not heard of: the database decides.
    async fn credentials(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<Arc<KeyCredentials>>, crate::store::StoreError> {
        if self.changes.trusted()
            && let Some(creds) = self.key_states.get(client_id)
        {
            return Ok(Some(creds));
        }
        let generation = self.changes.generation();
        let Some(creds) = self.store.find_credentials(client_id).await? else {
            return Ok(None);
        };
        let creds = Arc::new(creds);
        self.key_states
            .insert(Arc::clone(&creds), generation, || self.changes.generation());
        Ok(Some(creds))
    }

    /// The registered key the assertion names (by `kid`, or the only one of its family
    /// when it names none).
    async fn decoding_key(
        &self,
        keys: &ClientKeys,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, Refusal> {
        match keys {
            ClientKeys::Set(set) => {
                let set: JwkSet =
                    serde_json::from_str(set).map_err(|_| Refusal::AssertionSignature)?;
                let jwk = match kid {
                    Some(kid) => set.find(kid),
                    None => {
                        let mut usable = set.keys.iter().filter(|k| fits(k, alg));
                        match (usable.next(), usable.next()) {
                            (Some(only), None) => Some(only),
                            _ => None,
                        }
                    }
                };
                jwk.and_then(|jwk| DecodingKey::from_jwk(jwk).ok())
                    .ok_or(Refusal::AssertionSignature)
            }
            ClientKeys::Url(url) => {
                // A published set rotates; the assertion must name its key.
                let kid = kid.ok_or(Refusal::AssertionSignature)?;
                // Checked at every fetch, not only at registration: the list may have
                // been narrowed since.
                if !self.config.outbound_hosts.allows(url) {
                    tracing::info!("a key's JWKS URL is outside KEYMINT_OUTBOUND_HOSTS");
                    return Err(Refusal::ClientKeysUnavailable);
                }
                let client = self.client(url).ok_or(Refusal::ClientKeysUnavailable)?;
                match client.key(kid).await {
                    Ok(Some(key)) => Ok(key),
                    Ok(None) => Err(Refusal::AssertionSignature),
                    Err(e) => {
                        tracing::info!(error = %e, "a client's published keys are unavailable");
                        Err(Refusal::ClientKeysUnavailable)
                    }
                }
            }
        }
    }

    /// The JWKS client of `url`, made at first use.
    fn client(&self, url: &str) -> Option<Arc<JwksClient>> {
        let mut urls = self
            .urls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = urls.get(url) {
            return Some(Arc::clone(client));
        }
        if urls.len() >= MAX_URLS {
            urls.clear();
        }
        let client = Arc::new(JwksClient::new(url, Arc::clone(&self.clock)).ok()?);
        urls.insert(url.to_owned(), Arc::clone(&client));
        Some(client)
    }

    /// The signature, `iss` = `sub` = the client id, and `aud` naming this environment's
    /// issuer or its token endpoint (RFC 7523 §3 (1), (2), (3)). Times are checked
    /// against Keymint's clock by [`check_times`].
    fn verify(
        &self,
        assertion: &str,
        key: &DecodingKey,
        alg: Algorithm,
        environment: &EnvironmentName,
        client_id: &ClientId,
    ) -> Result<Claims, Refusal> {
        let issuer = self.config.issuer(environment);
        let mut validation = Validation::new(alg);
        validation.set_audience(&[issuer.clone(), format!("{issuer}/oauth2/token")]);
        validation.set_issuer(&[client_id.as_str()]);
        validation.sub = Some(client_id.as_str().to_owned());
        validation.set_required_spec_claims(&["iss", "sub", "aud"]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        match jsonwebtoken::decode::<Claims>(assertion, key, &validation) {
            Ok(data) => Ok(data.claims),
            Err(e) => Err(match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidAudience => Refusal::AssertionAudience,
                jsonwebtoken::errors::ErrorKind::InvalidIssuer
                | jsonwebtoken::errors::ErrorKind::InvalidSubject => Refusal::AssertionIssuer,
                jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => {
                    Refusal::AssertionAudience
                }
                jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(_) => {
                    Refusal::AssertionIssuer
                }
                jsonwebtoken::errors::ErrorKind::InvalidSignature
                | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
                | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat => Refusal::AssertionSignature,
                _ => Refusal::AssertionMalformed,
            }),
        }
    }
}

/// Whether a JWK can verify `alg` (by its family, and its `alg` when it names one).
fn fits(jwk: &jsonwebtoken::jwk::Jwk, alg: Algorithm) -> bool {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    let family = matches!(
        (&jwk.algorithm, alg),
        (P::RSA(_), Algorithm::RS256 | Algorithm::PS256)
            | (P::EllipticCurve(_), Algorithm::ES256)
            | (P::OctetKeyPair(_), Algorithm::EdDSA)
    );
    let named = jwk
        .common
        .key_algorithm
        .is_none_or(|a| a.to_string() == format!("{alg:?}"));
    family && named
}

/// The `iss` of an assertion, read without verifying it: only to know whose keys verify
/// it. Everything is checked after.
fn unverified_issuer(assertion: &str) -> Option<String> {
    use base64::Engine;
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<Unverified>(&bytes).ok()?.iss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_is_read_before_verification_only_when_well_formed() {
        use base64::Engine;
        let part = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        let jwt = format!("{}.{}.sig", part("{}"), part(r#"{"iss":"kmc_x"}"#));
        assert_eq!(unverified_issuer(&jwt).as_deref(), Some("kmc_x"));
        assert_eq!(unverified_issuer("no-dots"), None);
        assert_eq!(unverified_issuer("a.!!!.c"), None);
    }
}

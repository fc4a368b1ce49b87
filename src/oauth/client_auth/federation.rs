//! Workload identity federation: a federated key's client sends the token its own platform
//! gave it (a GitHub Actions or GitLab CI job's OIDC token, a Kubernetes projected
//! service-account token, a SPIFFE JWT-SVID) as its client assertion. Keymint finds the
//! issuer's keys through `{issuer}/.well-known/openid-configuration` (OIDC Discovery §4),
//! checks the signature, `iss`, `aud`, the times, and that `sub` and every claim of the
//! key's rule are equal. The caller learns nothing of why a token was refused.
//!
//! A workload reuses its token until its platform rotates it, so a token found good for a
//! key is remembered (its SHA-256, per key) until its `exp`: the next request with it
//! skips the signature. Nothing a change makes stale: a key's rule never changes, and the
//! key's state (disabled, expired, owner) is checked on every request before this.

use aws_lc_rs::{constant_time, digest};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use time::OffsetDateTime;

use super::times::{Times, check_times};
use crate::changes::{Concern, ShardedCache};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{ClientId, EnvironmentName, FederationRule};
use crate::oauth::RefusalReason as Refusal;
use crate::verifier::jwks::{JwksClient, read_capped};

/// How long a discovered `jwks_uri` is used before discovery runs again.
const DISCOVERY_TTL: time::Duration = time::Duration::hours(1);
/// Least time between two discoveries of one issuer (also after a failure).
const MIN_REDISCOVERY: time::Duration = time::Duration::seconds(10);
/// Largest discovery document read.
const MAX_DISCOVERY_BYTES: usize = 64 * 1024;
/// Issuers whose keys are kept; past this the map starts over.
const MAX_ISSUERS: usize = 1_000;
/// Keys whose last good outside token is remembered.
const MAX_REMEMBERED: usize = 10_000;

/// The outside token last found good for a key, and until when.
struct Remembered {
    digest: [u8; 32],
    /// Its `exp`.
    until: OffsetDateTime,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

struct Known {
    /// The issuer's keys, once discovered.
    jwks: Option<Arc<JwksClient>>,
    /// When discovery last ran (or was tried).
    at: OffsetDateTime,
}

/// Verifies outside tokens against federated keys' rules; built once.
pub struct FederatedTokens {
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    issuers: Mutex<HashMap<String, Known>>,
    /// One discovery at a time per issuer: a burst of first requests waits for one.
    discovering: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    remembered: ShardedCache<ClientId, Remembered>,
    /// Requests answered from `remembered` (shared with `/metrics`).
    remembered_hits: Arc<AtomicU64>,
}

impl FederatedTokens {
    /// A verifier fetching with the same limits as the JWKS client: GET, no redirects,
    /// short timeouts, a size cap.
    pub fn new(config: Arc<Config>, clock: Arc<dyn Clock>) -> Self {
        let http = crate::verifier::jwks::outbound_client();
        Self {
            config,
            clock,
            http,
            issuers: Mutex::new(HashMap::new()),
            discovering: Mutex::new(HashMap::new()),
            // A token lives at most an hour past its `iat` (check_times).
            remembered: ShardedCache::new(MAX_REMEMBERED, Duration::from_secs(3600)),
            remembered_hits: Arc::default(),
        }
    }

    /// Whether `token` (signed with `alg`, naming `kid`) matches `rule` of the key
    /// `client_id` of `environment` at `now`.
    #[allow(clippy::too_many_arguments)]
    pub async fn verify(
        &self,
        token: &str,
        alg: Algorithm,
        kid: Option<&str>,
        client_id: &ClientId,
        rule: &FederationRule,
        environment: &EnvironmentName,
        now: OffsetDateTime,
    ) -> Result<(), Refusal> {
        let digest = sha256(token);
        if self.remembered.get(client_id).is_some_and(|r| {
            now < r.until && constant_time::verify_slices_are_equal(&r.digest, &digest).is_ok()
        }) {
            self.remembered_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let until = self
            .verify_fully(token, alg, kid, rule, environment, now)
            .await?;
        let remembered = Remembered { digest, until };
        let concerns = [Concern::Key(client_id.clone())];
        // Nothing to be overtaken by (see the module documentation): generation 0.
        self.remembered
            .insert(client_id.clone(), Arc::new(remembered), concerns, 0, || 0);
        Ok(())
    }

    /// Counts requests whose outside token was remembered (no signature checked).
    pub fn remembered_hits(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.remembered_hits)
    }

    /// [`Self::verify`] without memory; the token's `exp` when it is good.
    async fn verify_fully(
        &self,
        token: &str,
        alg: Algorithm,
        kid: Option<&str>,
        rule: &FederationRule,
        environment: &EnvironmentName,
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime, Refusal> {
        let kid = kid.ok_or(Refusal::AssertionSignature)?;
        let keys = self.keys_of(&rule.issuer).await?;
        let key = match keys.key(kid).await {
            Ok(Some(key)) => key,
            Ok(None) => return Err(Refusal::AssertionSignature),
            Err(e) => {
                tracing::info!(error = %e, "an outside issuer's keys are unavailable");
                return Err(Refusal::ClientKeysUnavailable);
            }
        };
        let audience = rule
            .audience
            .clone()
            .unwrap_or_else(|| self.config.issuer(environment));
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[rule.issuer.as_str()]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["iss", "aud"]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims = match jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation) {
            Ok(data) => data.claims,
            Err(e) => {
                return Err(match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidAudience => Refusal::AssertionAudience,
                    jsonwebtoken::errors::ErrorKind::InvalidIssuer => Refusal::FederationMismatch,
                    jsonwebtoken::errors::ErrorKind::InvalidSignature
                    | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
                    | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat => {
                        Refusal::AssertionSignature
                    }
                    _ => Refusal::AssertionMalformed,
                });
            }
        };
        let number = |name: &str| claims.get(name).and_then(Value::as_i64);
        let until = check_times(
            &Times {
                exp: number("exp"),
                iat: number("iat"),
                nbf: number("nbf"),
            },
            now,
        )?;
        let equal = |name: &str, want: &str| match claims.get(name) {
            Some(Value::String(have)) => have == want,
            Some(other) => serde_json::to_string(other).is_ok_and(|text| text == want),
            None => false,
        };
        if rule
            .subject
            .as_deref()
            .is_some_and(|sub| !equal("sub", sub))
            || rule.claims.iter().any(|(name, value)| !equal(name, value))
        {
            return Err(Refusal::FederationMismatch);
        }
        Ok(until)
    }

    /// The JWKS client of `issuer`, discovered at first use and again after an hour, at
    /// most once per 10 s, by one request at a time (the others wait for its result).
    async fn keys_of(&self, issuer: &str) -> Result<Arc<JwksClient>, Refusal> {
        if let Some(known) = self.known(issuer) {
            return known;
        }
        let lock = {
            let mut locks = self
                .discovering
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if locks.len() >= MAX_ISSUERS {
                locks.clear();
            }
            Arc::clone(locks.entry(issuer.to_owned()).or_default())
        };
        let _one_at_a_time = lock.lock().await;
        if let Some(known) = self.known(issuer) {
            return known;
        }
        let now = self.clock.now();
        let discovered = self.discover(issuer).await;
        let mut issuers = self.issuers.lock().unwrap_or_else(PoisonError::into_inner);
        if issuers.len() >= MAX_ISSUERS {
            issuers.clear();
        }
        match discovered {
            Ok(jwks) => {
                let jwks = Arc::new(jwks);
                issuers.insert(
                    issuer.to_owned(),
                    Known {
                        jwks: Some(Arc::clone(&jwks)),
                        at: now,
                    },
                );
                Ok(jwks)
            }
            Err(why) => {
                tracing::info!(issuer, why, "discovering an outside issuer failed");
                // Keys discovered before stay in use while the issuer cannot be reached.
                let known = issuers.entry(issuer.to_owned()).or_insert(Known {
                    jwks: None,
                    at: now,
                });
                known.at = now;
                known.jwks.clone().ok_or(Refusal::ClientKeysUnavailable)
            }
        }
    }

    /// What is known of `issuer`, while it is recent enough to answer without discovery.
    fn known(&self, issuer: &str) -> Option<Result<Arc<JwksClient>, Refusal>> {
        let now = self.clock.now();
        let issuers = self.issuers.lock().unwrap_or_else(PoisonError::into_inner);
        let known = issuers.get(issuer)?;
        let age = now - known.at;
        match &known.jwks {
            Some(jwks) if age < DISCOVERY_TTL => Some(Ok(Arc::clone(jwks))),
            None if age < MIN_REDISCOVERY => Some(Err(Refusal::ClientKeysUnavailable)),
            _ => None,
        }
    }

    /// OIDC Discovery §4: the issuer's metadata, whose `issuer` must be exactly the one
    /// asked for (§4.3), and a `jwks_uri` Keymint may fetch.
    async fn discover(&self, issuer: &str) -> Result<JwksClient, String> {
        let allowed = &self.config.outbound_hosts;
        if !allowed.allows(issuer) {
            return Err("the issuer is outside KEYMINT_OUTBOUND_HOSTS".into());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("fetching {url} failed: {e}"))?;
        let body = read_capped(response, MAX_DISCOVERY_BYTES, "the discovery document")
            .await
            .map_err(|e| e.0)?;
        let doc: Discovery =
            serde_json::from_slice(&body).map_err(|e| format!("{url} is not discovery: {e}"))?;
        if doc.issuer != issuer {
            return Err(format!("{url} names another issuer"));
        }
        if !allowed.allows(&doc.jwks_uri) {
            return Err("its jwks_uri is outside KEYMINT_OUTBOUND_HOSTS".into());
        }
        JwksClient::new(&doc.jwks_uri, Arc::clone(&self.clock)).map_err(|e| e.0)
    }
}

fn sha256(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    out
}

//! Checking Keymint's own access tokens, as the management API and introspection need:
//! first as a gateway would (signature through the environment's published keys, `typ`,
//! `iss`, `aud`, `exp`/`nbf` on Keymint's clock, `env`), then against current state
//! (revoked, key disabled, deleted or expired, owner inactive, secret since replaced).

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};

use std::sync::Arc;
use time::OffsetDateTime;

use super::claims::{IssuedClaims, TokenClaims};
use super::key_states::KeyStates;
use super::revocations::{RevocationList, Revoked};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{ClientId, EnvironmentName, KeyCredentials};
use crate::signing::{EnvironmentKeys, KeyRing};
use crate::store::Store;

/// Why a token is not (or no longer) good; for logs and `UNAUTHENTICATED` messages.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct Inactive {
    /// What is wrong with the token.
    pub reason: String,
    /// Nothing is known to be wrong with the token: the database could not be asked.
    /// Callers answer "retry later", never "inactive".
    pub unavailable: bool,
}

fn inactive(m: &str) -> Inactive {
    Inactive {
        reason: m.to_owned(),
        unavailable: false,
    }
}

/// What a token of one environment must match.
pub struct Expected<'a> {
    /// The environment whose endpoint or API is called.
    pub environment: &'a EnvironmentName,
    /// Its signing keys (the published ones verify).
    pub keys: &'a EnvironmentKeys,
    /// Its issuer.
    pub issuer: String,
    /// Audiences accepted.
    pub audiences: Vec<String>,
    /// Now, on Keymint's clock.
    pub now: OffsetDateTime,
}

/// Verifies signature and claims as a gateway would: a plain function of its inputs.
pub fn verify_claims(expected: &Expected<'_>, token: &str) -> Result<TokenClaims, Inactive> {
    let env = expected.environment;
    let header = decode_header(token).map_err(|_| inactive("malformed token"))?;
    // RFC 9068 §4: the typ header MUST be checked to tell access tokens from other JWTs.
    if header.typ.as_deref() != Some("at+jwt") {
        return Err(inactive("not an access token (typ must be at+jwt)"));
    }
    let kid = header.kid.ok_or_else(|| inactive("token has no kid"))?;
    let key = expected
        .keys
        .published
        .iter()
        .find(|k| k.kid() == kid)
        .ok_or_else(|| inactive("token not signed by this environment"))?;
    let decoding = key
        .decoding_key()
        .ok_or_else(|| inactive("signing key unusable"))?;
    let alg: Algorithm = key
        .alg()
        .as_str()
        .parse()
        .map_err(|_| inactive("signing key unusable"))?;
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[&expected.issuer]);
    validation.set_audience(&expected.audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Time is checked below against Keymint's clock, with no leeway.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let claims = decode::<TokenClaims>(token, decoding, &validation)
        .map_err(|e| match e.kind() {
            // The usual cause: instances serving different KEYMINT_PUBLIC_URLs.
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => inactive(&format!(
                "issued by another issuer than this environment's ({}); every instance needs the same KEYMINT_PUBLIC_URL",
                expected.issuer
            )),
            _ => inactive(&format!("invalid token: {e}")),
        })?
        .claims;
    let now = expected.now.unix_timestamp();
    if now >= claims.exp {
        return Err(inactive("token expired"));
    }
    if now < claims.nbf {
        return Err(inactive("token not yet valid"));
    }
    if claims.env != env.as_str() {
        return Err(inactive("token of another environment"));
    }
    Ok(claims)
}

/// Checks Keymint's access tokens against the published keys and the current state.
pub struct TokenChecker {
    /// Configuration (issuers, audiences).
    pub config: Arc<Config>,
    /// Signing keys.
    pub keys: Arc<KeyRing>,
    /// Revocations, keys and owners.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Introspection's verified tokens.
    pub cache: Arc<super::token_cache::TokenCache>,
    /// Key, user, token and signing-key changes (for the cache's insert guard).
    pub changes: Arc<crate::changes::ChangeFeed>,
    /// Every unexpired revocation, kept by the change feed.
    pub revocations: Arc<RevocationList>,
    /// The state of keys whose tokens were checked, kept by the change feed.
    pub key_states: Arc<KeyStates>,
}

impl TokenChecker {
    /// [`verify_claims`] with what `env` expects now.
    pub fn verify(&self, env: &EnvironmentName, token: &str) -> Result<TokenClaims, Inactive> {
        let keys = self
            .keys
            .get(env)
            .ok_or_else(|| inactive("unknown environment"))?;
        let expected = Expected {
            environment: env,
            keys: &keys,
            issuer: self.config.issuer(env),
            audiences: self.config.audiences(env),
            now: self.clock.now(),
        };
        verify_claims(&expected, token)
    }

    /// Checks that a verified token is still good now; returns its key's credentials.
    pub async fn check_current(
        &self,
        env: &EnvironmentName,
        claims: &TokenClaims,
    ) -> Result<KeyCredentials, Inactive> {
        // Past KEYMINT_MAX_STALENESS, the revocations and key states held here may miss
        // a change: the database answers instead.
        let memory = self.changes.trusted().then_some(Memory {
            revocations: &self.revocations,
            key_states: &self.key_states,
            changes: &self.changes,
        });
        check_current(
            self.store.as_ref(),
            memory,
            self.clock.now(),
            env,
            &claims.issued(),
        )
        .await
    }
}

/// What a serving instance keeps in memory for [`check_current`], each kept exact by the
/// change feed.
#[derive(Clone, Copy)]
pub struct Memory<'a> {
    /// Every unexpired revocation.
    pub revocations: &'a RevocationList,
    /// Key states read before.
    pub key_states: &'a KeyStates,
    /// The feed (its generation guards inserts into `key_states`).
    pub changes: &'a crate::changes::ChangeFeed,
}

/// Checks that a token of `env` is still good at `now`: not revoked, its key there,
/// enabled, unexpired and of that environment, its owner active and still the owner,
/// and its secret not since replaced. Returns the key's credentials. With `memory`, the
/// revocations and key states held there answer first, else the database does.
pub async fn check_current(
    store: &dyn Store,
    memory: Option<Memory<'_>>,
    now: OffsetDateTime,
    env: &EnvironmentName,
    claims: &IssuedClaims<'_>,
) -> Result<KeyCredentials, Inactive> {
    let unavailable = |e: crate::store::StoreError| {
        tracing::warn!(error = %e, "token check: database unavailable");
        Inactive {
            reason: "temporarily unable to check the token, retry shortly".into(),
            unavailable: true,
        }
    };
    // Taken before any read: a key state read after a change is not remembered.
    let generation = memory.map(|m| m.changes.generation());
    let revoked = match memory.map_or(Revoked::Unknown, |m| m.revocations.lookup(claims.jti)) {
        Revoked::Yes => true,
        Revoked::No => false,
        Revoked::Unknown => store.is_revoked(claims.jti).await.map_err(unavailable)?,
    };
    if revoked {
        return Err(inactive("token revoked"));
    }
    let client_id = ClientId::new(claims.client_id.to_owned());
    let creds = match memory.and_then(|m| m.key_states.get(&client_id)) {
        Some(creds) => creds,
        None => {
            let creds = Arc::new(
                store
                    .find_credentials(&client_id)
                    .await
                    .map_err(unavailable)?
                    .ok_or_else(|| inactive("the token's key was deleted"))?,
            );
            if let (Some(m), Some(read)) = (memory, generation) {
                m.key_states
                    .insert(Arc::clone(&creds), read, || m.changes.generation());
            }
            creds
        }
    };
    still_good(&creds, now, env, claims)?;
    Ok(KeyCredentials::clone(&creds))
}

/// The checks of [`check_current`] on credentials already read: the key enabled,
/// unexpired at `now` and of `env`, its owner active and still the token's `sub`, and the
/// token's secret still accepted at `now`.
pub fn still_good(
    creds: &KeyCredentials,
    now: OffsetDateTime,
    env: &EnvironmentName,
    claims: &IssuedClaims<'_>,
) -> Result<(), Inactive> {
    if !creds.key.enabled || creds.key.is_expired(now) || creds.key.environment != *env {
        return Err(inactive("the token's key is disabled or expired"));
    }
    if !creds.owner_active {
        return Err(inactive("the token's owner is inactive"));
    }
    if creds.key.owner_id.as_str() != claims.sub {
        return Err(inactive("token subject does not own its key"));
    }
    if let Some(sv) = claims.sv
        && !creds.accepts_secret_version(sv, now)
    {
        return Err(inactive(
            "minted with a secret that has since been replaced",
        ));
    }
    Ok(())
}

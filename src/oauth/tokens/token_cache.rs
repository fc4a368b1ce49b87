//! Introspection's cache of verified tokens: a gateway introspects the same token on
//! every call of its client until it expires, so the signature check, the revocation
//! lookup and the key's state are remembered per token, with the active answer already
//! serialised.
//!
//! A [`ShardedCache`] like the other caches:
//! - Keyed by the SHA-256 of the token, so a hit needs the whole token (never a prefix).
//! - An entry holds what was checked against the database when it was inserted: not
//!   revoked, the key enabled, in this environment and still owned by `sub`, the owner
//!   active. Every change that could alter one of those (a key, a user, a revocation, the
//!   signing keys; any door, any instance) removes the entries filed under it, and an
//!   insert is dropped if any change was published since its reads began, so no entry
//!   outlives a change that concerns it.
//! - What depends on the time is checked again at every hit: the token's `exp` and `nbf`,
//!   the key's expiry, a previous secret's grace period, and that the signing key is still
//!   published.
//! - Bounded: at most `capacity` entries, each kept at most `ttl` and never past its
//!   token's expiry.

use aws_lc_rs::digest::{SHA256, digest};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::claims::TokenClaims;
use crate::changes::{Change, Concern, ShardedCache};
use crate::domain::{EnvironmentName, KeyCredentials};

/// A token that passed every check when it was inserted.
pub struct CachedToken {
    /// The environment it was introspected in.
    pub environment: EnvironmentName,
    /// The signing key that signed it.
    pub kid: String,
    /// Its claims.
    pub claims: TokenClaims,
    /// Its key, secrets and owner state as read then.
    pub creds: KeyCredentials,
    /// The `{"active": true, ...}` answer.
    pub answer: Arc<[u8]>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct TokenCacheStats {
    /// Introspections answered from the cache.
    pub hits: AtomicU64,
    /// Introspections that verified the token and read the database.
    pub misses: AtomicU64,
    /// Entries removed because something they depend on changed.
    pub invalidations: AtomicU64,
}

type Hash = [u8; 32];

/// See the module documentation.
pub struct TokenCache {
    entries: ShardedCache<Hash, CachedToken>,
    stats: TokenCacheStats,
}

/// What a token is cached under.
pub fn token_hash(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

impl TokenCache {
    /// A cache of at most `capacity` tokens (0 turns it off), each kept at most `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: ShardedCache::new(capacity, ttl),
            stats: TokenCacheStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> &TokenCacheStats {
        &self.stats
    }

    /// The entry of the token hashing to `hash`, if any and younger than the TTL. The
    /// caller checks what depends on the time.
    pub fn lookup(&self, hash: &[u8; 32]) -> Option<Arc<CachedToken>> {
        let found = self.entries.get(hash);
        let counter = if found.is_some() {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Remembers a token that passed every check, filed under its `jti`, its key, the
    /// key's owner and its environment's signing keys. `generation_read` is the
    /// change-feed generation taken before its database reads; the insert is dropped if
    /// `current_generation` has moved since.
    pub fn insert(
        &self,
        hash: [u8; 32],
        token: CachedToken,
        generation_read: u64,
        current_generation: impl Fn() -> u64,
    ) {
        let concerns = [
            Concern::Token(token.claims.jti.as_str().into()),
            Concern::Key(token.creds.key.client_id.clone()),
            Concern::User(token.creds.key.owner_id.clone()),
            Concern::SigningKeys(token.environment.clone()),
        ];
        self.entries.insert(
            hash,
            Arc::new(token),
            concerns,
            generation_read,
            current_generation,
        );
    }

    /// Drops what `change` concerns. Called for every published change.
    pub fn invalidate(&self, change: &Change) {
        let removed = self.entries.invalidate(change);
        self.stats
            .invalidations
            .fetch_add(removed as u64, Ordering::Relaxed);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::key_credentials;
    use crate::domain::{ClientId, UserId};

    fn claims(jti: &str, client_id: &str, owner: &str) -> TokenClaims {
        serde_json::from_value(serde_json::json!({
            "iss": "i", "sub": owner, "aud": "a", "exp": 2, "iat": 1, "nbf": 1,
            "jti": jti, "client_id": client_id, "env": "production",
        }))
        .unwrap()
    }

    fn put(cache: &TokenCache, jti: &str, client_id: &str, owner: &str) -> Hash {
        let hash = token_hash(jti);
        let token = CachedToken {
            environment: EnvironmentName::parse("production").unwrap(),
            kid: "kid".into(),
            claims: claims(jti, client_id, owner),
            creds: key_credentials(client_id, owner),
            answer: Arc::from(&b"{}"[..]),
        };
        cache.insert(hash, token, 0, || 0);
        hash
    }

    /// The rules (generation guard, capacity, TTL, indexes) are the skeleton's and tested
    /// there; this cache says what a token is filed under.
    #[test]
    fn a_token_is_filed_under_its_jti_key_owner_and_signing_keys() {
        let cache = TokenCache::new(1_000, Duration::from_secs(60));
        let a1 = put(&cache, "j-a1", "kmc_a", "alice");
        let a2 = put(&cache, "j-a2", "kmc_a", "alice");
        let b1 = put(&cache, "j-b1", "kmc_b", "alice");
        let c1 = put(&cache, "j-c1", "kmc_c", "carol");
        assert_eq!(cache.len(), 4);

        cache.invalidate(&Change::Token("j-a1".into()));
        assert!(cache.lookup(&a1).is_none());
        assert!(cache.lookup(&a2).is_some());
        assert_eq!(cache.len(), 3);

        cache.invalidate(&Change::Key(ClientId::new("kmc_a".into())));
        assert!(cache.lookup(&a2).is_none());
        assert!(cache.lookup(&b1).is_some());

        cache.invalidate(&Change::User(UserId::parse("alice").unwrap()));
        assert!(cache.lookup(&b1).is_none());
        assert!(cache.lookup(&c1).is_some());
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.stats().invalidations.load(Ordering::Relaxed), 3);

        cache.invalidate(&Change::SigningKeys(
            EnvironmentName::parse("sandbox").unwrap(),
        ));
        assert_eq!(cache.len(), 1);
        cache.invalidate(&Change::SigningKeys(
            EnvironmentName::parse("production").unwrap(),
        ));
        assert!(cache.is_empty());
    }
}

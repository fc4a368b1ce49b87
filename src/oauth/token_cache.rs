//! Introspection's cache of verified tokens: a gateway introspects the same token on
//! every call of its client until it expires, so the signature check, the revocation
//! lookup and the key's state are remembered per token, with the active answer already
//! serialised.
//!
//! The same discipline as the verified-secret cache ([`super::VerifiedCache`]):
//! - Keyed by the SHA-256 of the token, so a hit needs the whole token (never a prefix).
//! - An entry holds what was checked against the database when it was inserted: not
//!   revoked, the key enabled, in this environment and still owned by `sub`, the owner
//!   active. Every change that could alter one of those (a key, a user, a revocation, the
//!   signing keys; any door, any instance) removes the entries concerned through the
//!   change feed, and an insert is dropped if any change was published since its reads
//!   began (checked under the shard lock the removal takes), so no entry outlives a change
//!   that concerns it.
//! - What depends on the time is checked again at every hit: the token's `exp` and `nbf`,
//!   the key's expiry, a previous secret's grace period, and that the signing key is still
//!   published.
//! - Bounded: at most `capacity` entries (an arbitrary one of a full shard is evicted),
//!   each kept at most `ttl` and never past its token's expiry.

use aws_lc_rs::digest::{SHA256, digest};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::access_token::TokenClaims;
use crate::domain::{EnvironmentName, KeyCredentials};
use crate::sync::Change;

const SHARDS: usize = 16;

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
    inserted: Instant,
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

type Shard = HashMap<[u8; 32], Arc<CachedToken>>;

/// See the module documentation.
pub struct TokenCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    ttl: Duration,
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
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
            ttl,
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
        let found = self
            .shard(hash)
            .get(hash)
            .filter(|e| e.inserted.elapsed() < self.ttl)
            .cloned();
        let counter = if found.is_some() {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Remembers a token that passed every check. `generation_read` is the change-feed
    /// generation taken before its database reads; the insert is dropped if
    /// `current_generation` has moved since (checked under the lock).
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &self,
        hash: [u8; 32],
        environment: &EnvironmentName,
        kid: &str,
        claims: TokenClaims,
        creds: KeyCredentials,
        answer: Arc<[u8]>,
        generation_read: u64,
        current_generation: impl Fn() -> u64,
    ) {
        if self.per_shard == 0 {
            return;
        }
        let entry = Arc::new(CachedToken {
            environment: environment.clone(),
            kid: kid.to_owned(),
            claims,
            creds,
            answer,
            inserted: Instant::now(),
        });
        let mut shard = self.shard(&hash);
        if current_generation() != generation_read {
            return;
        }
        if shard.len() >= self.per_shard
            && !shard.contains_key(&hash)
            && let Some(victim) = shard.keys().next().copied()
        {
            shard.remove(&victim);
        }
        shard.insert(hash, entry);
    }

    /// Drops what `change` concerns. Called for every published change.
    pub fn invalidate(&self, change: &Change) {
        match change {
            Change::Key(client_id) => {
                self.retain(|e| e.creds.key.client_id != *client_id);
            }
            Change::User(user) => self.retain(|e| e.creds.key.owner_id != *user),
            Change::Token(jti) => self.retain(|e| e.claims.jti != *jti),
            Change::SigningKeys(env) => self.retain(|e| e.environment != *env),
            Change::All => self.retain(|_| false),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn retain(&self, keep: impl Fn(&CachedToken) -> bool) {
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let before = shard.len();
            shard.retain(|_, e| keep(e));
            self.stats
                .invalidations
                .fetch_add((before - shard.len()) as u64, Ordering::Relaxed);
        }
    }

    fn shard(&self, hash: &[u8; 32]) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[usize::from(hash[0]) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

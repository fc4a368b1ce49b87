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
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::access_token::TokenClaims;
use crate::changes::Change;
use crate::domain::{EnvironmentName, KeyCredentials};

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

type Hash = [u8; 32];

/// One shard: the tokens, and indexes by `jti`, client id and owner, so that a change
/// concerning one token, key or user touches only its entries (a revocation, which any
/// key may make of its own tokens, must not cost a scan of every cached token).
#[derive(Default)]
struct Shard {
    tokens: HashMap<Hash, Arc<CachedToken>>,
    by_jti: HashMap<Box<str>, Hash>,
    by_client: HashMap<Box<str>, HashSet<Hash>>,
    by_owner: HashMap<Box<str>, HashSet<Hash>>,
}

impl Shard {
    fn insert(&mut self, hash: Hash, entry: Arc<CachedToken>) {
        self.remove(&hash);
        self.by_jti.insert(entry.claims.jti.as_str().into(), hash);
        self.by_client
            .entry(entry.creds.key.client_id.as_str().into())
            .or_default()
            .insert(hash);
        self.by_owner
            .entry(entry.creds.key.owner_id.as_str().into())
            .or_default()
            .insert(hash);
        self.tokens.insert(hash, entry);
    }

    /// Removes one token and its index entries; true if it was there.
    fn remove(&mut self, hash: &Hash) -> bool {
        let Some(entry) = self.tokens.remove(hash) else {
            return false;
        };
        let jti = entry.claims.jti.as_str();
        if self.by_jti.get(jti) == Some(hash) {
            self.by_jti.remove(jti);
        }
        for (index, key) in [
            (&mut self.by_client, entry.creds.key.client_id.as_str()),
            (&mut self.by_owner, entry.creds.key.owner_id.as_str()),
        ] {
            if let Some(set) = index.get_mut(key) {
                set.remove(hash);
                if set.is_empty() {
                    index.remove(key);
                }
            }
        }
        true
    }

    /// Removes every token of an index entry; how many.
    fn remove_all(&mut self, hashes: Option<HashSet<Hash>>) -> usize {
        hashes.map_or(0, |hashes| {
            hashes.iter().filter(|hash| self.remove(hash)).count()
        })
    }
}

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
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
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
            .tokens
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
        if shard.tokens.len() >= self.per_shard
            && !shard.tokens.contains_key(&hash)
            && let Some(victim) = shard.tokens.keys().next().copied()
        {
            shard.remove(&victim);
        }
        shard.insert(hash, entry);
    }

    /// Drops what `change` concerns. Called for every published change. A token, key or
    /// user change costs one index lookup per shard, whatever the cache holds; only a
    /// change of an environment's signing keys (rare) or `All` walks the entries.
    pub fn invalidate(&self, change: &Change) {
        let removed = match change {
            Change::Key(client_id) => self.each_shard(|shard| {
                let hashes = shard.by_client.remove(client_id.as_str());
                shard.remove_all(hashes)
            }),
            Change::User(user) => self.each_shard(|shard| {
                let hashes = shard.by_owner.remove(user.as_str());
                shard.remove_all(hashes)
            }),
            Change::Token(jti) => self.each_shard(|shard| {
                let hash = shard.by_jti.get(jti.as_str()).copied();
                hash.is_some_and(|hash| shard.remove(&hash)).into()
            }),
            Change::SigningKeys(env) => self.each_shard(|shard| {
                let gone: Vec<Hash> = shard
                    .tokens
                    .iter()
                    .filter(|(_, e)| e.environment == *env)
                    .map(|(h, _)| *h)
                    .collect();
                gone.iter().filter(|h| shard.remove(h)).count()
            }),
            Change::All => self.each_shard(|shard| {
                let n = shard.tokens.len();
                *shard = Shard::default();
                n
            }),
        };
        self.stats
            .invalidations
            .fetch_add(removed as u64, Ordering::Relaxed);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).tokens.len())
            .sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `change` on every shard under its lock; the total it returns.
    fn each_shard(&self, change: impl Fn(&mut Shard) -> usize) -> usize {
        self.shards
            .iter()
            .map(|shard| change(&mut shard.lock().unwrap_or_else(|e| e.into_inner())))
            .sum()
    }

    fn shard(&self, hash: &[u8; 32]) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[usize::from(hash[0]) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApiKey, ClientId, Permissions, StoredSecret, UserId};
    use time::macros::datetime;

    fn creds(client_id: &str, owner: &str) -> KeyCredentials {
        let at = datetime!(2026-01-01 0:00 UTC);
        KeyCredentials {
            key: ApiKey {
                id: format!("key_{client_id}"),
                client_id: ClientId::new(client_id.into()),
                environment: EnvironmentName::parse("production").unwrap(),
                owner_id: UserId::parse(owner).unwrap(),
                permissions: Permissions::parse(["runs:read"]).unwrap(),
                enabled: true,
                disabled_reason: None,
                name: None,
                expires_at: None,
                last_used_at: None,
                etag: "e1".into(),
                created_at: at,
                updated_at: at,
            },
            secret: StoredSecret {
                hash: "h".into(),
                check: None,
            },
            previous_secret: None,
            owner_active: true,
        }
    }

    fn claims(jti: &str, client_id: &str, owner: &str) -> TokenClaims {
        serde_json::from_value(serde_json::json!({
            "iss": "i", "sub": owner, "aud": "a", "exp": 2, "iat": 1, "nbf": 1,
            "jti": jti, "client_id": client_id, "env": "production",
        }))
        .unwrap()
    }

    fn put(cache: &TokenCache, jti: &str, client_id: &str, owner: &str) -> Hash {
        let hash = token_hash(jti);
        let env = EnvironmentName::parse("production").unwrap();
        let answer: Arc<[u8]> = Arc::from(&b"{}"[..]);
        let (claims, creds) = (claims(jti, client_id, owner), creds(client_id, owner));
        cache.insert(hash, &env, "kid", claims, creds, answer, 0, || 0);
        hash
    }

    #[test]
    fn each_change_removes_exactly_what_it_concerns_through_the_indexes() {
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
    }

    #[test]
    fn evicted_and_replaced_entries_leave_no_index_behind() {
        let cache = TokenCache::new(SHARDS, Duration::from_secs(60));
        for i in 0..500 {
            put(&cache, &format!("j{i}"), &format!("kmc_{}", i % 7), "alice");
        }
        assert!(cache.len() <= SHARDS);
        let indexed: usize = cache.each_shard(|shard| {
            let by_client: usize = shard.by_client.values().map(HashSet::len).sum();
            let by_owner: usize = shard.by_owner.values().map(HashSet::len).sum();
            assert_eq!(shard.by_jti.len(), shard.tokens.len());
            assert_eq!(by_client, shard.tokens.len());
            assert_eq!(by_owner, shard.tokens.len());
            shard.tokens.len()
        });
        assert_eq!(indexed, cache.len());
        cache.invalidate(&Change::All);
        assert!(cache.is_empty());
    }
}

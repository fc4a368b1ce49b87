//! The verified-secret cache: after a successful argon2id verification, remember that
//! this client id + secret is good, together with the key's state, so later requests skip
//! argon2 and the database.
//!
//! - Entries are keyed by client id and hold an HMAC-SHA256 of the secret under a
//!   per-process random key, never the secret; lookups compare MACs in constant time.
//! - A MAC mismatch is a miss, never a rejection: the caller falls back to a full
//!   verification (the secret may have been rotated on another instance).
//! - Bounded in entries (oldest-inserted evicted per shard) and in age (TTL).
//! - Every change to a key or its owner removes the entries concerned, through the change
//!   feed that every instance follows ([`crate::changes`]). An insert is dropped if any
//!   change was published since the state it carries was read, checked under the same
//!   lock the invalidation takes, so a stale state can never be cached.

use aws_lc_rs::{constant_time, hmac};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

use crate::changes::Change;
use crate::domain::{ApiKey, KeyCredentials, UserId};
use crate::secrets::ClientSecret;

const SHARDS: usize = 16;

struct Entry {
    mac: [u8; 32],
    key: Arc<ApiKey>,
    owner_active: bool,
    secret_version: Arc<str>,
    /// Set when the secret is the previous one, accepted only during its grace period.
    secret_valid_until: Option<OffsetDateTime>,
    inserted: Instant,
}

/// A cache hit: the key as it was when its secret was last verified.
#[derive(Debug, Clone)]
pub struct CachedKey {
    /// The key's state (shared with the entry: a hit allocates nothing).
    pub key: Arc<ApiKey>,
    /// Whether the owner was active.
    pub owner_active: bool,
    /// Fingerprint of the stored secret that was verified.
    pub secret_version: Arc<str>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: AtomicU64,
    /// Lookups that fell back to a full verification.
    pub misses: AtomicU64,
    /// Entries removed because their key or owner changed.
    pub invalidations: AtomicU64,
}

/// See the module documentation.
pub struct VerifiedCache {
    mac_key: hmac::Key,
    shards: Vec<Mutex<HashMap<String, Entry>>>,
    per_shard: usize,
    ttl: Duration,
    stats: CacheStats,
}

impl VerifiedCache {
    /// A cache of at most `capacity` entries (0 turns it off), each trusted for at most `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).expect("OS random number generator unavailable");
        Self {
            mac_key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
            ttl,
            stats: CacheStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// The cached key if `secret` is the one verified for `client_id`, still fresh.
    pub fn lookup(
        &self,
        client_id: &str,
        secret: &ClientSecret,
        now: OffsetDateTime,
    ) -> Option<CachedKey> {
        let mac = self.mac(client_id, secret);
        let shard = self
            .shard(client_id)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let hit = shard.get(client_id).filter(|e| {
            e.inserted.elapsed() < self.ttl
                && e.secret_valid_until.is_none_or(|until| now < until)
                && constant_time::verify_slices_are_equal(&e.mac, &mac).is_ok()
        });
        match hit {
            Some(e) => {
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                Some(CachedKey {
                    key: Arc::clone(&e.key),
                    owner_active: e.owner_active,
                    secret_version: Arc::clone(&e.secret_version),
                })
            }
            None => {
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Remembers a verified secret with the key state read after the verification.
    /// `generation_read` is the change-feed generation taken before that read; the
    /// insert is dropped if `current_generation` has moved since (checked under the lock).
    pub fn insert(
        &self,
        secret: &ClientSecret,
        creds: &KeyCredentials,
        secret_version: &Arc<str>,
        secret_valid_until: Option<OffsetDateTime>,
        generation_read: u64,
        current_generation: impl Fn() -> u64,
    ) {
        let client_id = creds.key.client_id.as_str();
        let entry = Entry {
            mac: self.mac(client_id, secret),
            key: Arc::new(creds.key.clone()),
            owner_active: creds.owner_active,
            secret_version: Arc::clone(secret_version),
            secret_valid_until,
            inserted: Instant::now(),
        };
        if self.per_shard == 0 {
            return; // capacity 0: the cache is off
        }
        let mut shard = self
            .shard(client_id)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if current_generation() != generation_read {
            return;
        }
        if shard.len() >= self.per_shard && !shard.contains_key(client_id) {
            // Evict the oldest entry of this shard.
            if let Some(oldest) = shard
                .iter()
                .min_by_key(|(_, e)| e.inserted)
                .map(|(k, _)| k.clone())
            {
                shard.remove(&oldest);
            }
        }
        shard.insert(client_id.to_owned(), entry);
    }

    /// Drops what `change` concerns. Called for every published change.
    pub fn invalidate(&self, change: &Change) {
        match change {
            Change::Key(client_id) => {
                let mut shard = self
                    .shard(client_id.as_str())
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if shard.remove(client_id.as_str()).is_some() {
                    self.stats.invalidations.fetch_add(1, Ordering::Relaxed);
                }
            }
            Change::User(user) => self.retain(|e| e.key.owner_id != *user),
            Change::All => self.retain(|_| false),
            // Signing keys and revoked tokens say nothing about client secrets.
            Change::SigningKeys(_) | Change::Token(_) => {}
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

    /// Keys of `owner` currently cached (for tests and diagnostics).
    pub fn cached_for(&self, owner: &UserId) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .filter(|e| e.key.owner_id == *owner)
                    .count()
            })
            .sum()
    }

    fn retain(&self, keep: impl Fn(&Entry) -> bool) {
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let before = shard.len();
            shard.retain(|_, e| keep(e));
            self.stats
                .invalidations
                .fetch_add((before - shard.len()) as u64, Ordering::Relaxed);
        }
    }

    fn mac(&self, client_id: &str, secret: &ClientSecret) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.mac_key);
        ctx.update(client_id.as_bytes());
        ctx.update(&[0]);
        ctx.update(secret.expose().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    fn shard(&self, client_id: &str) -> &Mutex<HashMap<String, Entry>> {
        // FNV-1a over the id: cheap and even enough for random ids.
        let hash = client_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        &self.shards[(hash as usize) % SHARDS]
    }
}

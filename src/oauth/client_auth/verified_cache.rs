//! The verified-secret cache: after a successful argon2id verification, remember that
//! this client id + secret is good, together with the key's state, so later requests skip
//! argon2 and the database.
//!
//! - Entries are keyed by client id and hold an HMAC-SHA256 of the secret under a
//!   per-process random key, never the secret; lookups compare MACs in constant time.
//! - A MAC mismatch is a miss, never a rejection: the caller falls back to a full
//!   verification (the secret may have been rotated on another instance).
//! - Bounded, exact under changes: a [`ShardedCache`] filed under the key and its owner,
//!   so every change to either removes the entry on every instance, and an insert
//!   overtaken by a change is dropped.

use aws_lc_rs::{constant_time, hmac};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use time::OffsetDateTime;

use crate::changes::{Change, Concern, ShardedCache};
use crate::domain::{ApiKey, ClientId, KeyCredentials};
use crate::oauth::claims::{TemplateSlot, template_slot};
use crate::secrets::ClientSecret;

struct Entry {
    mac: [u8; 32],
    key: Arc<ApiKey>,
    owner_active: bool,
    secret_version: Arc<str>,
    status_index: u32,
    /// Set when the secret is the previous one, accepted only during its grace period.
    secret_valid_until: Option<OffsetDateTime>,
    /// The claims template of this credential's tokens, written by the first hit's token.
    template: Arc<TemplateSlot>,
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
    /// The status-list index of that secret.
    pub status_index: u32,
    /// The entry's claims template (dropped with the entry on any change).
    pub template: Arc<TemplateSlot>,
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
    entries: ShardedCache<ClientId, Entry>,
    stats: CacheStats,
}

impl VerifiedCache {
    /// A cache of at most `capacity` entries (0 turns it off), each trusted for at most `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).expect("OS random number generator unavailable");
        Self {
            mac_key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            entries: ShardedCache::new(capacity, ttl),
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
        // The MAC is computed whether or not the id is cached: a lookup costs the same.
        let mac = self.mac(client_id, secret);
        let hit = self.entries.get(client_id).filter(|e| {
            e.secret_valid_until.is_none_or(|until| now < until)
                && constant_time::verify_slices_are_equal(&e.mac, &mac).is_ok()
        });
        match hit {
            Some(e) => {
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                Some(CachedKey {
                    key: Arc::clone(&e.key),
                    owner_active: e.owner_active,
                    secret_version: Arc::clone(&e.secret_version),
                    status_index: e.status_index,
                    template: Arc::clone(&e.template),
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
        let client_id = &creds.key.client_id;
        let entry = Entry {
            mac: self.mac(client_id.as_str(), secret),
            key: Arc::new(creds.key.clone()),
            owner_active: creds.owner_active,
            secret_version: Arc::clone(secret_version),
            // A secret accepted until a time is the previous one.
            status_index: match secret_valid_until {
                Some(_) => creds
                    .previous_status_index
                    .unwrap_or(creds.key.status_index),
                None => creds.key.status_index,
            },
            secret_valid_until,
            template: template_slot(),
        };
        let concerns = [
            Concern::Key(client_id.clone()),
            Concern::User(creds.key.owner_id.clone()),
        ];
        self.entries.insert(
            client_id.clone(),
            Arc::new(entry),
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

    fn mac(&self, client_id: &str, secret: &ClientSecret) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.mac_key);
        ctx.update(client_id.as_bytes());
        ctx.update(&[0]);
        ctx.update(secret.expose().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }
}

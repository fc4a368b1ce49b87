//! The state of keys whose tokens were checked, so that a stream of distinct tokens of
//! one key (a client minting often, gateways introspecting each) reads the key once.
//!
//! The discipline of the other caches ([`super::TokenCache`], [`super::VerifiedCache`]):
//! - An entry is the key, its secrets and its owner's activity as read together.
//! - `Change::Key` removes the key's entry, `Change::User` the entries of the user's
//!   keys, `Change::All` every entry; on every instance, through the change feed.
//! - An insert is dropped if any change was published since its read began (checked
//!   under the shard lock that removal takes), so no entry outlives a change.
//! - What depends on the time (the key's expiry, a previous secret's grace) is checked by
//!   the caller at each use, from the entry.
//! - Bounded: at most `capacity` entries (an arbitrary one of a full shard is evicted),
//!   each kept at most `ttl`. A deleted key is not remembered: it is read each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::changes::Change;
use crate::domain::{ClientId, KeyCredentials};

const SHARDS: usize = 16;

struct Entry {
    creds: Arc<KeyCredentials>,
    inserted: Instant,
}

/// See the module documentation.
pub struct KeyStates {
    shards: Vec<Mutex<HashMap<ClientId, Entry>>>,
    per_shard: usize,
    ttl: Duration,
}

impl KeyStates {
    /// At most `capacity` keys (0 turns it off), each kept at most `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
            ttl,
        }
    }

    /// The state of `client_id` as last read, if remembered and younger than the TTL.
    pub fn get(&self, client_id: &ClientId) -> Option<Arc<KeyCredentials>> {
        self.shard(client_id)
            .get(client_id)
            .filter(|e| e.inserted.elapsed() < self.ttl)
            .map(|e| Arc::clone(&e.creds))
    }

    /// Remembers a key's state read after the change-feed generation was
    /// `generation_read`; dropped if `current_generation` has moved since.
    pub fn insert(
        &self,
        creds: Arc<KeyCredentials>,
        generation_read: u64,
        current_generation: impl Fn() -> u64,
    ) {
        if self.per_shard == 0 {
            return;
        }
        let client_id = creds.key.client_id.clone();
        let mut shard = self.shard(&client_id);
        if current_generation() != generation_read {
            return;
        }
        if shard.len() >= self.per_shard
            && !shard.contains_key(&client_id)
            && let Some(victim) = shard.keys().next().cloned()
        {
            shard.remove(&victim);
        }
        shard.insert(
            client_id,
            Entry {
                creds,
                inserted: Instant::now(),
            },
        );
    }

    /// Drops what `change` concerns. Called for every published change.
    pub fn invalidate(&self, change: &Change) {
        match change {
            Change::Key(client_id) => {
                self.shard(client_id).remove(client_id);
            }
            Change::User(user) => self.retain(|e| e.creds.key.owner_id != *user),
            Change::All => self.retain(|_| false),
            Change::SigningKeys(_) | Change::Token(_) => {}
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn retain(&self, keep: impl Fn(&Entry) -> bool) {
        for shard in &self.shards {
            lock(shard).retain(|_, e| keep(e));
        }
    }

    fn shard(&self, client_id: &ClientId) -> MutexGuard<'_, HashMap<ClientId, Entry>> {
        // FNV-1a: client ids are random, any spread will do.
        let hash = client_id
            .as_str()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        lock(&self.shards[(hash % SHARDS as u64) as usize])
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApiKey, EnvironmentName, Permissions, StoredSecret, UserId};
    use time::macros::datetime;

    fn creds(client_id: &str, owner: &str) -> Arc<KeyCredentials> {
        let at = datetime!(2026-01-01 0:00 UTC);
        Arc::new(KeyCredentials {
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
        })
    }

    fn id(s: &str) -> ClientId {
        ClientId::new(s.into())
    }

    #[test]
    fn a_state_read_before_a_change_is_not_remembered() {
        let states = KeyStates::new(100, Duration::from_secs(60));
        states.insert(creds("kmc_a", "alice"), 7, || 8);
        assert!(states.get(&id("kmc_a")).is_none());
        states.insert(creds("kmc_a", "alice"), 8, || 8);
        assert!(states.get(&id("kmc_a")).is_some());
    }

    #[test]
    fn each_change_drops_what_it_concerns_and_nothing_else() {
        let states = KeyStates::new(100, Duration::from_secs(60));
        for (key, owner) in [("kmc_a", "alice"), ("kmc_b", "alice"), ("kmc_c", "bob")] {
            states.insert(creds(key, owner), 0, || 0);
        }
        states.invalidate(&Change::Key(id("kmc_c")));
        assert!(states.get(&id("kmc_c")).is_none());
        assert_eq!(states.len(), 2);

        states.insert(creds("kmc_c", "bob"), 0, || 0);
        states.invalidate(&Change::User(UserId::parse("alice").unwrap()));
        assert!(states.get(&id("kmc_a")).is_none());
        assert!(states.get(&id("kmc_b")).is_none());
        assert!(states.get(&id("kmc_c")).is_some());

        states.invalidate(&Change::All);
        assert!(states.is_empty());
    }

    #[test]
    fn it_stays_within_its_capacity_and_ttl() {
        let states = KeyStates::new(32, Duration::from_secs(60));
        for i in 0..1000 {
            states.insert(creds(&format!("kmc_{i}"), "alice"), 0, || 0);
        }
        assert!(states.len() <= 32, "{} entries", states.len());

        let expired = KeyStates::new(32, Duration::ZERO);
        expired.insert(creds("kmc_a", "alice"), 0, || 0);
        assert!(expired.get(&id("kmc_a")).is_none());

        let off = KeyStates::new(0, Duration::from_secs(60));
        off.insert(creds("kmc_a", "alice"), 0, || 0);
        assert!(off.is_empty());
    }
}

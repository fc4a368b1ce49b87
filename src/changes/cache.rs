//! [`ShardedCache`]: the one skeleton of every cache that must stay exact while other
//! instances change the database (verified secrets, key states, introspected tokens).
//! Each cache keeps only its key, its value and which changes concern an entry
//! ([`Concern`]); the rules are written here once:
//!
//! - **Never insert what a change has overtaken.** An insert carries the change-feed
//!   generation taken before the reads its value comes from, and is dropped if the
//!   generation has moved since. The check runs under the shard lock that invalidation
//!   also takes, so an insert either lands before a change's removal (and is removed by
//!   it) or sees the change's generation bump (and is dropped).
//! - **Indexed invalidation.** Every entry is filed under its concerns; a change removes
//!   the entries filed under its concern, one index lookup per shard whatever the cache
//!   holds. `Change::All` empties the cache.
//! - **Bounded.** At most `capacity` entries (the oldest of a full shard is evicted, in
//!   amortised constant time), each kept at most `ttl`; capacity 0 turns the cache off.

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::Change;
use crate::domain::{ClientId, EnvironmentName, UserId};

const SHARDS: usize = 16;

/// Something a cached entry depends on: a change of it removes the entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Concern {
    /// A key (any field, its deletion).
    Key(ClientId),
    /// A user (activity, permissions).
    User(UserId),
    /// An access token (its revocation), by `jti`.
    Token(Box<str>),
    /// An environment's signing keys.
    SigningKeys(EnvironmentName),
}

impl Concern {
    /// What `change` concerns; `None` for `Change::All` (everything).
    fn of(change: &Change) -> Option<Self> {
        Some(match change {
            Change::Key(id) => Self::Key(id.clone()),
            Change::User(id) => Self::User(id.clone()),
            Change::Token(jti) => Self::Token(jti.as_str().into()),
            Change::SigningKeys(env) => Self::SigningKeys(env.clone()),
            Change::All => return None,
        })
    }
}

struct Slot<V> {
    value: Arc<V>,
    concerns: Box<[Concern]>,
    inserted: Instant,
    /// Its place in the shard's insertion order.
    seq: u64,
}

struct Shard<K, V> {
    entries: HashMap<K, Slot<V>>,
    index: HashMap<Concern, HashSet<K>>,
    /// Insertion order, oldest first; entries removed since are skipped (their `seq`
    /// no longer matches) and compacted away once they outnumber the live ones.
    order: VecDeque<(K, u64)>,
    next_seq: u64,
}

impl<K: Hash + Eq + Clone, V> Default for Shard<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            index: HashMap::new(),
            order: VecDeque::new(),
            next_seq: 0,
        }
    }
}

impl<K: Hash + Eq + Clone, V> Shard<K, V> {
    fn insert(&mut self, key: K, value: Arc<V>, concerns: Box<[Concern]>) {
        self.remove(&key);
        for concern in &concerns {
            self.index
                .entry(concern.clone())
                .or_default()
                .insert(key.clone());
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.push_back((key.clone(), seq));
        self.entries.insert(
            key,
            Slot {
                value,
                concerns,
                inserted: Instant::now(),
                seq,
            },
        );
        if self.order.len() > 2 * self.entries.len() + 16 {
            let entries = &self.entries;
            self.order
                .retain(|(k, seq)| entries.get(k).is_some_and(|s| s.seq == *seq));
        }
    }

    /// Removes one entry and its index entries; true if it was there.
    fn remove(&mut self, key: &K) -> bool {
        let Some(slot) = self.entries.remove(key) else {
            return false;
        };
        for concern in slot.concerns.iter() {
            if let Some(keys) = self.index.get_mut(concern) {
                keys.remove(key);
                if keys.is_empty() {
                    self.index.remove(concern);
                }
            }
        }
        true
    }

    /// Removes the oldest entry.
    fn evict_oldest(&mut self) {
        while let Some((key, seq)) = self.order.pop_front() {
            if self.entries.get(&key).is_some_and(|s| s.seq == seq) {
                self.remove(&key);
                return;
            }
        }
    }

    fn invalidate(&mut self, concern: Option<&Concern>) -> usize {
        match concern {
            None => {
                let n = self.entries.len();
                *self = Self::default();
                n
            }
            Some(concern) => self
                .index
                .remove(concern)
                .map_or(0, |keys| keys.iter().filter(|k| self.remove(k)).count()),
        }
    }
}

/// A sharded, bounded map from `K` to shared `V`s that follows the change feed. See the
/// module documentation.
pub struct ShardedCache<K, V> {
    shards: Box<[Mutex<Shard<K, V>>]>,
    hasher: RandomState,
    per_shard: usize,
    ttl: Duration,
}

impl<K: Hash + Eq + Clone, V> ShardedCache<K, V> {
    /// At most `capacity` entries (0 turns the cache off), each kept at most `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            per_shard: capacity.div_ceil(SHARDS),
            ttl,
        }
    }

    /// The value under `key` (or a borrowed form of it), if there and younger than the TTL.
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(key)
            .entries
            .get(key)
            .filter(|s| s.inserted.elapsed() < self.ttl)
            .map(|s| Arc::clone(&s.value))
    }

    /// Files `value` under `key` and `concerns`, unless a change was published since
    /// `generation_read` (the generation taken before the reads `value` comes from):
    /// `current_generation` is read under the shard lock invalidation takes. True if
    /// inserted.
    pub fn insert(
        &self,
        key: K,
        value: Arc<V>,
        concerns: impl Into<Box<[Concern]>>,
        generation_read: u64,
        current_generation: impl Fn() -> u64,
    ) -> bool {
        if self.per_shard == 0 {
            return false;
        }
        let concerns = concerns.into();
        let mut shard = self.shard(&key);
        if current_generation() != generation_read {
            return false;
        }
        if shard.entries.len() >= self.per_shard && !shard.entries.contains_key(&key) {
            shard.evict_oldest();
        }
        shard.insert(key, value, concerns);
        true
    }

    /// Removes the entries `change` concerns (every entry for `Change::All`); how many.
    pub fn invalidate(&self, change: &Change) -> usize {
        let concern = Concern::of(change);
        self.shards
            .iter()
            .map(|shard| lock(shard).invalidate(concern.as_ref()))
            .sum()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).entries.len()).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> MutexGuard<'_, Shard<K, V>> {
        let hash = self.hasher.hash_one(key);
        lock(&self.shards[(hash % SHARDS as u64) as usize])
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> Concern {
        Concern::Key(ClientId::new(id.into()))
    }

    fn user(id: &str) -> Concern {
        Concern::User(UserId::parse(id).unwrap())
    }

    fn cache(capacity: usize) -> ShardedCache<String, u32> {
        ShardedCache::new(capacity, Duration::from_secs(60))
    }

    fn put(c: &ShardedCache<String, u32>, k: &str, v: u32, concerns: Vec<Concern>) -> bool {
        c.insert(k.into(), Arc::new(v), concerns, 7, || 7)
    }

    #[test]
    fn an_insert_overtaken_by_a_change_is_dropped() {
        let c = cache(100);
        assert!(!c.insert("a".into(), Arc::new(1), vec![key("a")], 7, || 8));
        assert!(c.get(&"a".to_string()).is_none());
        assert!(c.insert("a".into(), Arc::new(1), vec![key("a")], 8, || 8));
        assert_eq!(c.get(&"a".to_string()).as_deref(), Some(&1));
    }

    #[test]
    fn a_change_removes_exactly_the_entries_filed_under_it() {
        let c = cache(100);
        put(&c, "k1", 1, vec![key("k1"), user("alice")]);
        put(&c, "k2", 2, vec![key("k2"), user("alice")]);
        put(&c, "k3", 3, vec![key("k3"), user("bob")]);
        let alice = Change::User(UserId::parse("alice").unwrap());
        assert_eq!(c.invalidate(&alice), 2);
        assert!(c.get(&"k1".to_string()).is_none() && c.get(&"k2".to_string()).is_none());
        assert_eq!(c.get(&"k3".to_string()).as_deref(), Some(&3));
        // Unconcerned changes remove nothing; a key change removes its one entry.
        assert_eq!(c.invalidate(&Change::Token("j".into())), 0);
        assert_eq!(c.invalidate(&Change::Key(ClientId::new("k3".into()))), 1);
        assert!(c.is_empty());
    }

    #[test]
    fn a_replaced_entry_is_filed_under_its_new_concerns_only() {
        let c = cache(100);
        put(&c, "k1", 1, vec![user("alice")]);
        put(&c, "k1", 2, vec![user("bob")]);
        assert_eq!(
            c.invalidate(&Change::User(UserId::parse("alice").unwrap())),
            0
        );
        assert_eq!(c.get(&"k1".to_string()).as_deref(), Some(&2));
        assert_eq!(
            c.invalidate(&Change::User(UserId::parse("bob").unwrap())),
            1
        );
    }

    #[test]
    fn all_empties_the_cache() {
        let c = cache(10_000);
        for i in 0..50 {
            put(&c, &format!("k{i}"), i, vec![key(&format!("k{i}"))]);
        }
        assert_eq!(c.invalidate(&Change::All), 50);
        assert!(c.is_empty());
    }

    #[test]
    fn a_full_shard_evicts_its_oldest_entry() {
        // Capacity 16: one entry per shard; every insert into a shard replaces its oldest.
        let c = cache(16);
        for i in 0..1000 {
            put(&c, &format!("k{i}"), i, vec![key(&format!("k{i}"))]);
            assert!(c.len() <= 16);
        }
        // The newest entry always survives its own insert.
        assert_eq!(c.get(&"k999".to_string()).as_deref(), Some(&999));
        // Churn (insert, invalidate) leaves no index behind, and the insertion order stays
        // within a constant factor of the capacity.
        for i in 0..1000 {
            let k = format!("x{i}");
            put(&c, &k, i, vec![key(&k)]);
            c.invalidate(&Change::Key(ClientId::new(k)));
        }
        for shard in c.shards.iter() {
            let shard = lock(shard);
            assert!(shard.order.len() <= 2 * c.per_shard + 17);
            assert!(shard.index.values().all(|keys| !keys.is_empty()));
        }
    }

    #[test]
    fn eviction_order_is_insertion_order() {
        let c: ShardedCache<u32, u32> = ShardedCache::new(16 * 3, Duration::from_secs(60));
        // Find four keys of one shard.
        let same: Vec<u32> = (0..10_000)
            .filter(|k| c.hasher.hash_one(k) % SHARDS as u64 == 0)
            .take(4)
            .collect();
        for &k in &same {
            c.insert(k, Arc::new(k), Vec::new(), 0, || 0);
        }
        assert!(c.get(&same[0]).is_none(), "the oldest is evicted");
        assert!(same[1..].iter().all(|k| c.get(k).is_some()));
    }

    #[test]
    fn entries_expire_and_capacity_zero_turns_the_cache_off() {
        let c: ShardedCache<String, u32> = ShardedCache::new(100, Duration::ZERO);
        put(&c, "a", 1, vec![]);
        assert!(c.get(&"a".to_string()).is_none());
        let off = cache(0);
        assert!(!put(&off, "a", 1, vec![]));
        assert!(off.is_empty());
    }
}

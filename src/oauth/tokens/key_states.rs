//! The state of keys whose tokens were checked, so that a stream of distinct tokens of
//! one key (a client minting often, gateways introspecting each) reads the key once.
//! An entry is the key, its secrets and its owner's activity as read together, filed
//! under the key and its owner in a [`ShardedCache`] (bounded, exact under changes on
//! every instance). What depends on the time (the key's expiry, a previous secret's
//! grace) is checked by the caller at each use. A deleted key is not remembered.

use std::sync::Arc;
use std::time::Duration;

use crate::changes::{Change, Concern, ShardedCache};
use crate::domain::{ClientId, KeyCredentials};

/// See the module documentation.
pub struct KeyStates {
    entries: ShardedCache<ClientId, KeyCredentials>,
}

impl KeyStates {
    /// At most `capacity` keys (0 turns it off), each kept at most `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: ShardedCache::new(capacity, ttl),
        }
    }

    /// The state of `client_id` as last read, if remembered and younger than the TTL.
    pub fn get(&self, client_id: &ClientId) -> Option<Arc<KeyCredentials>> {
        self.entries.get(client_id)
    }

    /// Remembers a key's state read after the change-feed generation was
    /// `generation_read`; dropped if `current_generation` has moved since.
    pub fn insert(
        &self,
        creds: Arc<KeyCredentials>,
        generation_read: u64,
        current_generation: impl Fn() -> u64,
    ) {
        let concerns = [
            Concern::Key(creds.key.client_id.clone()),
            Concern::User(creds.key.owner_id.clone()),
        ];
        let client_id = creds.key.client_id.clone();
        self.entries.insert(
            client_id,
            creds,
            concerns,
            generation_read,
            current_generation,
        );
    }

    /// Drops what `change` concerns. Called for every published change.
    pub fn invalidate(&self, change: &Change) {
        self.entries.invalidate(change);
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
    use crate::domain::UserId;
    use crate::domain::fixtures::key_credentials;

    fn id(s: &str) -> ClientId {
        ClientId::new(s.into())
    }

    /// The rules (generation guard, capacity, TTL) are the skeleton's and tested there;
    /// this cache only says what its entries are filed under: the key and its owner.
    #[test]
    fn a_key_is_filed_under_itself_and_its_owner() {
        let states = KeyStates::new(100, Duration::from_secs(60));
        for (key, owner) in [("kmc_a", "alice"), ("kmc_b", "alice"), ("kmc_c", "bob")] {
            states.insert(Arc::new(key_credentials(key, owner)), 0, || 0);
        }
        states.invalidate(&Change::Key(id("kmc_c")));
        assert!(states.get(&id("kmc_c")).is_none());
        assert_eq!(states.len(), 2);
        states.insert(Arc::new(key_credentials("kmc_c", "bob")), 0, || 0);
        states.invalidate(&Change::User(UserId::parse("alice").unwrap()));
        assert!(states.get(&id("kmc_a")).is_none() && states.get(&id("kmc_b")).is_none());
        assert!(states.get(&id("kmc_c")).is_some());
        states.invalidate(&Change::Token("jti".into()));
        assert_eq!(states.len(), 1);
    }
}

//! Every unexpired token revocation, held in memory so that introspecting a token never
//! seen before needs no revocation read from the database.
//!
//! Kept exact by the change feed, like the caches:
//! - Loaded at start-up after the feed position is taken, so a revocation committed
//!   meanwhile arrives through the feed (at worst twice; adding a jti is idempotent).
//! - `Change::Token(jti)` (a revocation, at any instance) adds the jti.
//! - `Change::All` (something may have been missed) marks the list incomplete: until the
//!   sync task has loaded it again, a jti it does not hold is looked up in the database.
//!   A load begun before that `All` does not make the list complete.
//! - Revocations are never undone, so a load only adds: what the feed added during a
//!   load stays.
//! - An entry is forgotten once its token has expired. A jti learned from the feed has
//!   no expiry with it; it is kept for the longest token lifetime any instance may use,
//!   plus a minute for clocks that differ between instances.

use std::collections::HashMap;
use std::sync::RwLock;
use time::OffsetDateTime;

use crate::changes::Change;
use crate::config::MAX_TOKEN_TTL_SECS;
use crate::store::{Store, StoreError};

/// How long a jti learned from the feed is kept, in seconds.
const FEED_KEEP_SECS: i64 = MAX_TOKEN_TTL_SECS as i64 + 60;

/// Most revocations held (about 100 bytes each). Past it the list stops growing and
/// answers "ask the database" for every jti it lacks, until pruning brings it under half
/// and a reload makes it complete again: memory stays bounded, answers stay exact.
pub const MAX_HELD: usize = 500_000;

/// See the module documentation.
#[derive(Debug)]
pub struct RevocationList {
    inner: RwLock<Inner>,
    capacity: usize,
}

impl Default for RevocationList {
    fn default() -> Self {
        Self::with_capacity(MAX_HELD)
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Revoked jti → Unix time after which its token has expired.
    jtis: HashMap<Box<str>, i64>,
    /// True when `jtis` holds every unexpired revocation.
    complete: bool,
    /// True when a revocation was left out for [`MAX_HELD`]: the list is not complete
    /// until pruned under half and reloaded.
    overflowed: bool,
    /// Moves at every `Change::All`.
    epoch: u64,
}

/// What the list knows of a jti.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// Revoked.
    Yes,
    /// Not revoked (the list is complete).
    No,
    /// The list is being reloaded: ask the database.
    Unknown,
}

impl RevocationList {
    /// Reads every unexpired revocation from `store`. Until it succeeds after a
    /// `Change::All`, introspection asks the database about the jtis the list does not
    /// hold.
    pub async fn load(&self, store: &dyn Store, now: OffsetDateTime) -> Result<(), StoreError> {
        let epoch = self.begin_load();
        self.finish_load(epoch, store.unexpired_revocations(now).await?);
        Ok(())
    }

    /// An empty, incomplete list (every lookup says [`Revoked::Unknown`] until loaded).
    pub fn new() -> Self {
        Self::default()
    }

    /// [`Self::new`] holding at most `capacity` revocations (see [`MAX_HELD`]).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: RwLock::default(),
            capacity,
        }
    }

    /// Whether `jti` is revoked, as far as the list knows.
    pub fn lookup(&self, jti: &str) -> Revoked {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if inner.jtis.contains_key(jti) {
            Revoked::Yes
        } else if inner.complete && !inner.overflowed {
            Revoked::No
        } else {
            Revoked::Unknown
        }
    }

    /// Follows the change feed. Called for every published change.
    pub fn on_change(&self, change: &Change, now: OffsetDateTime) {
        match change {
            Change::Token(jti) => {
                let forget_after = now.unix_timestamp() + FEED_KEEP_SECS;
                let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
                if inner.jtis.len() >= self.capacity && !inner.jtis.contains_key(jti.as_str()) {
                    inner.overflowed = true;
                    return;
                }
                let until = inner
                    .jtis
                    .entry(jti.as_str().into())
                    .or_insert(forget_after);
                *until = (*until).max(forget_after);
            }
            Change::All => {
                let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
                inner.complete = false;
                inner.epoch += 1;
            }
            Change::Key(_) | Change::User(_) | Change::SigningKeys(_) => {}
        }
    }

    /// True until a load completes after the last `Change::All`.
    pub fn needs_load(&self) -> bool {
        !self
            .inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .complete
    }

    /// Call before reading the revocations from the database; pass the result to
    /// [`Self::finish_load`].
    pub fn begin_load(&self) -> u64 {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).epoch
    }

    /// Adds the revocations read from the database; the list is complete unless a
    /// `Change::All` was published since `epoch` was taken.
    pub fn finish_load(&self, epoch: u64, revoked: Vec<(String, OffsetDateTime)>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for (jti, expires_at) in revoked {
            if inner.jtis.len() >= self.capacity && !inner.jtis.contains_key(jti.as_str()) {
                inner.overflowed = true;
                continue;
            }
            let until = inner.jtis.entry(jti.into_boxed_str()).or_insert(i64::MIN);
            *until = (*until).max(expires_at.unix_timestamp());
        }
        if inner.epoch == epoch {
            inner.complete = true;
        }
    }

    /// Forgets revocations whose tokens have expired by `now`. After an overflow, once
    /// under half of [`MAX_HELD`], asks for a reload (the list becomes exact again).
    pub fn prune(&self, now: OffsetDateTime) {
        let now = now.unix_timestamp();
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.jtis.retain(|_, until| *until >= now);
        if inner.overflowed && inner.jtis.len() < self.capacity / 2 {
            inner.overflowed = false;
            inner.complete = false;
            inner.epoch += 1;
        }
    }

    /// Number of revocations held.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .jtis
            .len()
    }

    /// True when none are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    #[test]
    fn unknown_until_loaded_then_exact() {
        let list = RevocationList::new();
        assert_eq!(list.lookup("a"), Revoked::Unknown);
        let epoch = list.begin_load();
        list.finish_load(epoch, vec![("a".into(), at(2_000))]);
        assert_eq!(list.lookup("a"), Revoked::Yes);
        assert_eq!(list.lookup("b"), Revoked::No);
        list.on_change(&Change::Token("b".into()), at(1_000));
        assert_eq!(list.lookup("b"), Revoked::Yes);
    }

    #[test]
    fn everything_forgotten_means_ask_the_database_until_reloaded() {
        let list = RevocationList::new();
        list.finish_load(list.begin_load(), Vec::new());
        list.on_change(&Change::All, at(1_000));
        assert!(list.needs_load());
        assert_eq!(list.lookup("c"), Revoked::Unknown);
        // A load that began before another `All` does not complete the list.
        let epoch = list.begin_load();
        list.on_change(&Change::All, at(1_000));
        list.finish_load(epoch, vec![("c".into(), at(2_000))]);
        assert_eq!(list.lookup("c"), Revoked::Yes);
        assert_eq!(list.lookup("d"), Revoked::Unknown);
        list.finish_load(list.begin_load(), Vec::new());
        assert_eq!(list.lookup("d"), Revoked::No);
    }

    #[test]
    fn a_revocation_heard_during_a_load_is_kept() {
        let list = RevocationList::new();
        let epoch = list.begin_load();
        list.on_change(&Change::Token("e".into()), at(1_000));
        list.finish_load(epoch, vec![("f".into(), at(2_000))]);
        assert_eq!(list.lookup("e"), Revoked::Yes);
        assert_eq!(list.lookup("f"), Revoked::Yes);
    }

    #[test]
    fn expired_revocations_are_forgotten_and_feed_ones_last_a_token_lifetime() {
        let list = RevocationList::new();
        list.finish_load(list.begin_load(), vec![("g".into(), at(1_500))]);
        list.on_change(&Change::Token("h".into()), at(1_000));
        list.prune(at(1_500));
        assert_eq!(list.lookup("g"), Revoked::Yes);
        list.prune(at(1_501));
        assert_eq!(list.lookup("g"), Revoked::No);
        list.prune(at(1_000 + FEED_KEEP_SECS));
        assert_eq!(list.lookup("h"), Revoked::Yes);
        list.prune(at(1_000 + FEED_KEEP_SECS + 1));
        assert_eq!(list.lookup("h"), Revoked::No);
        assert!(list.is_empty());
    }

    #[test]
    fn a_full_list_stays_bounded_and_exact_then_reloads() {
        let list = RevocationList::with_capacity(4);
        list.finish_load(list.begin_load(), vec![]);
        for (i, jti) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
            list.on_change(&Change::Token((*jti).into()), at(1_000 + i as i64));
        }
        assert_eq!(list.len(), 4, "bounded");
        assert_eq!(list.lookup("a"), Revoked::Yes);
        // Left out: the database must answer, never "not revoked".
        assert_eq!(list.lookup("f"), Revoked::Unknown);
        assert_eq!(list.lookup("never-revoked"), Revoked::Unknown);
        assert!(!list.needs_load(), "a reload now would overflow again");
        // Pruned under half: the list asks to be reloaded, and is exact after it.
        list.prune(at(1_002 + FEED_KEEP_SECS + 1));
        assert!(list.needs_load());
        let epoch = list.begin_load();
        list.finish_load(epoch, vec![("f".into(), at(9_999))]);
        assert_eq!(list.lookup("f"), Revoked::Yes);
        assert_eq!(list.lookup("never-revoked"), Revoked::No);
    }
}

//! One environment's status indexes as this instance knows them, and the bits they make
//! at a given time. Pure: the publisher feeds it what it read from the store.
//!
//! Indexes are allocated in order from the environment's counter and never reused, so
//! each is one slot of a vector. What a bit means (draft-ietf-oauth-status-list §7.1:
//! 0 valid, 1 invalid):
//! - a slot read from the store: 1 once its credential can no longer mint (disabled,
//!   owner inactive, key expired, previous secret past its grace, secret replaced);
//! - a slot never read, below the counter read with the last snapshot (the `floor`): 1.
//!   Every such index was committed before that read, so a key that is not there was
//!   deleted;
//! - a slot never read at or past the floor: 0. No token names it yet, or it is a key
//!   created since, which the change feed announces.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::domain::ClientId;
use crate::store::{StatusEntry, StatusSnapshot};

/// Statuses per list: a list's bytes are at most 128 KiB before compression.
pub const LIST_SIZE: u32 = 1 << 20;
/// Indexes past this are refused (a corrupt counter must not allocate gigabytes).
const MAX_INDEX: u32 = 1 << 28;

/// Never read.
const UNKNOWN: i64 = i64::MIN;
/// Can no longer mint.
const INVALID: i64 = i64::MIN + 1;
/// Valid with no end.
const FOREVER: i64 = i64::MAX;

#[derive(Clone, Copy)]
struct Slot {
    /// Valid while `now < until` (unix seconds), or one of the markers above.
    until: i64,
    /// A hash of the key's client id: finds a key's other slots when it is deleted or
    /// its secret replaced, without a map of every client id.
    owner: u64,
}

/// The bits of every list of an environment at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `LIST_SIZE / 8` bytes per list; status `i` is bit `i % 8` of byte `i / 8`
    /// (least significant first, §4.1).
    pub bytes: Vec<u8>,
    /// When a bit changes with time alone (an expiry, a grace period's end), if ever.
    pub next_change: Option<i64>,
}

impl Rendered {
    /// How many lists.
    pub fn lists(&self) -> usize {
        self.bytes.len() / (LIST_SIZE as usize / 8)
    }

    /// The bytes of list `n` (from 1).
    pub fn list(&self, n: usize) -> Option<&[u8]> {
        let size = LIST_SIZE as usize / 8;
        let start = n.checked_sub(1)?.checked_mul(size)?;
        self.bytes.get(start..start + size)
    }
}

/// See the module documentation.
#[derive(Default)]
pub struct Ledger {
    floor: u32,
    slots: Vec<Slot>,
}

/// Identity hashing for keys that are already hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type ByOwner = HashMap<u64, [Option<u32>; 2], BuildHasherDefault<Prehashed>>;

fn owner_hash(client_id: &ClientId) -> u64 {
    // SipHash with fixed keys: client ids are Keymint's own, never chosen by a client.
    let mut h = std::hash::DefaultHasher::new();
    client_id.as_str().hash(&mut h);
    h.finish()
}

impl Ledger {
    /// Every key of the environment, read after the counter.
    pub fn load(snapshot: StatusSnapshot) -> Self {
        let mut ledger = Self::default();
        ledger.extend(snapshot.entries);
        ledger.raise_floor(snapshot.next_index);
        ledger
    }

    /// Adds keys not seen before (a page of a full read): nothing to invalidate.
    pub fn extend(&mut self, entries: Vec<StatusEntry>) {
        for entry in &entries {
            let owner = owner_hash(&entry.client_id);
            self.set(entry.index, until_of(entry, None), owner);
            if let Some((index, grace)) = entry.previous {
                self.set(index, until_of(entry, Some(grace)), owner);
            }
        }
    }

    /// Every index below `next_index` was committed before the entries applied since
    /// were read.
    pub fn raise_floor(&mut self, next_index: u32) {
        self.floor = self.floor.max(next_index.min(MAX_INDEX));
    }

    /// The counter read with the last snapshot.
    pub fn floor(&self) -> u32 {
        self.floor
    }

    /// Slots held (for sizing).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when no slot is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Applies entries read after `snapshot.next_index` was: each key read replaces what
    /// was known of it (a slot it no longer names is invalid), and each of `gone` (read,
    /// not found) has all its slots invalid.
    pub fn apply(&mut self, snapshot: StatusSnapshot, gone: &[ClientId]) {
        let mut touched = ByOwner::default();
        for entry in &snapshot.entries {
            let owner = owner_hash(&entry.client_id);
            let current = self.set(entry.index, until_of(entry, None), owner);
            let previous = entry
                .previous
                .and_then(|(index, grace)| self.set(index, until_of(entry, Some(grace)), owner));
            touched.insert(owner, [current, previous]);
        }
        for client_id in gone {
            touched.insert(owner_hash(client_id), [None, None]);
        }
        if !touched.is_empty() && !self.slots.is_empty() {
            for (index, slot) in (0u32..).zip(self.slots.iter_mut()) {
                if slot.until != UNKNOWN
                    && touched
                        .get(&slot.owner)
                        .is_some_and(|kept| !kept.contains(&Some(index)))
                {
                    slot.until = INVALID;
                }
            }
        }
        self.raise_floor(snapshot.next_index);
    }

    fn set(&mut self, index: u32, until: i64, owner: u64) -> Option<u32> {
        if index >= MAX_INDEX {
            tracing::warn!(index, "status index out of range; ignored");
            return None;
        }
        let i = index as usize;
        if self.slots.len() <= i {
            self.slots.resize(
                i + 1,
                Slot {
                    until: UNKNOWN,
                    owner: 0,
                },
            );
        }
        self.slots[i] = Slot { until, owner };
        Some(index)
    }

    /// The bits at `now` (unix seconds), in whole lists: at least one.
    pub fn render(&self, now: i64) -> Rendered {
        let held = self.slots.len().max(self.floor as usize);
        let size = LIST_SIZE as usize;
        let lists = held.div_ceil(size).max(1);
        let mut bytes = vec![0u8; lists * size / 8];
        let mut next_change: Option<i64> = None;
        let floor = self.floor as usize;
        for (i, slot) in self.slots.iter().enumerate() {
            let invalid = match slot.until {
                UNKNOWN => i < floor,
                INVALID => true,
                until if until <= now => true,
                FOREVER => false,
                until => {
                    next_change = Some(next_change.map_or(until, |n| n.min(until)));
                    false
                }
            };
            if invalid {
                bytes[i / 8] |= 1 << (i % 8);
            }
        }
        for i in self.slots.len()..floor {
            bytes[i / 8] |= 1 << (i % 8);
        }
        Rendered { bytes, next_change }
    }
}

/// Until when an entry's credential may mint: never when the key is unusable; else until
/// the key's expiry and, for a previous secret, its grace period's end.
fn until_of(entry: &StatusEntry, grace: Option<time::OffsetDateTime>) -> i64 {
    if !entry.usable {
        return INVALID;
    }
    let expiry = entry.expires_at.map_or(FOREVER, |at| at.unix_timestamp());
    grace.map_or(expiry, |g| expiry.min(g.unix_timestamp()))
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;

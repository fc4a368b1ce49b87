//! One bounded table of failure counts, keyed by a keyed hash (fixed size whatever the
//! input): two generations of at most `MAX_ENTRIES / 2` entries each; when the current
//! one fills, the older is dropped, so each failure is O(1) amortised work under the lock.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use time::OffsetDateTime;

use super::{BASE_BACKOFF, FORGET_AFTER, MAX_ENTRIES};

#[derive(Debug, Clone, Copy)]
pub(super) struct Failures {
    pub(super) count: u32,
    last: OffsetDateTime,
}

impl Failures {
    /// The back-off of the latest failure: none for the first `threshold`, then 1 s
    /// doubling with every further one, at most `cap`.
    pub(super) fn backoff(&self, threshold: u32, cap: Duration) -> Option<Duration> {
        let excess = self.count.checked_sub(threshold + 1)?;
        let factor = 1u32.checked_shl(excess.min(20)).unwrap_or(u32::MAX);
        Some(BASE_BACKOFF.saturating_mul(factor).min(cap))
    }
}

#[derive(Default)]
struct Generations {
    current: HashMap<u64, Failures>,
    previous: HashMap<u64, Failures>,
}

/// One table of failure counts, keyed by a keyed hash (fixed size whatever the input).
pub(super) struct Table {
    hasher: RandomState,
    entries: Mutex<Generations>,
    len: AtomicUsize,
}

impl Table {
    pub(super) fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            entries: Mutex::new(Generations::default()),
            len: AtomicUsize::new(0),
        }
    }

    pub(super) fn key(&self, parts: &[&[u8]]) -> u64 {
        use std::hash::Hasher;
        let mut h = self.hasher.build_hasher();
        for part in parts {
            h.write_usize(part.len());
            h.write(part);
        }
        h.finish()
    }

    /// Counts one failure of `key` at `now` and returns its count.
    pub(super) fn record(&self, key: u64, now: OffsetDateTime) -> Failures {
        let mut retired = None;
        let failures = {
            let mut g = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let known = g
                .current
                .get(&key)
                .copied()
                .or_else(|| g.previous.remove(&key));
            if known.is_none() && g.current.len() >= MAX_ENTRIES / 2 {
                let full = std::mem::take(&mut g.current);
                retired = Some(std::mem::replace(&mut g.previous, full));
            }
            let mut entry = known
                .filter(|f| now - f.last < FORGET_AFTER)
                .unwrap_or(Failures {
                    count: 0,
                    last: now,
                });
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
            g.current.insert(key, entry);
            self.len
                .store(g.current.len() + g.previous.len(), Ordering::Relaxed);
            entry
        };
        // The retired generation is freed outside the lock.
        drop(retired);
        failures
    }

    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }
}

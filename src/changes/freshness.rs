//! How long ago this instance last *confirmed* the change feed, and whether what it holds
//! in memory may still decide requests.
//!
//! A confirmation is a read of the feed that reached its end (also when it found
//! nothing): every change committed before that read began has been published here. A
//! live notification connection proves nothing (a partition leaves it open and silent),
//! so only reads count, and a read counts from the moment it *began*.
//!
//! The guarantee (`KEYMINT_MAX_STALENESS`, the bound): while the last confirmation is
//! younger than the bound, the caches, key states and revocation list answer; past it
//! they are bypassed and the database answers every request (or `503` when it cannot be
//! reached). A confirmation that ends a gap longer than the bound first publishes
//! [`super::Change::All`] (whatever was missed is forgotten) and only then lets the
//! memory decide again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// See the module documentation.
#[derive(Debug)]
pub struct Freshness {
    origin: Instant,
    /// Milliseconds after `origin` at which the last confirming read began.
    confirmed_ms: AtomicU64,
    bound: Duration,
    /// Set once the bound was seen passed; cleared by the confirmation that resyncs.
    stale: AtomicBool,
}

impl Freshness {
    /// Confirmed now (the state was just read), trusted for `bound` without another
    /// confirmation.
    pub fn new(bound: Duration) -> Self {
        Self {
            origin: Instant::now(),
            confirmed_ms: AtomicU64::new(0),
            bound,
            stale: AtomicBool::new(false),
        }
    }

    /// `KEYMINT_MAX_STALENESS`.
    pub fn bound(&self) -> Duration {
        self.bound
    }

    /// Time since the last confirming read began.
    pub fn staleness(&self) -> Duration {
        let confirmed = Duration::from_millis(self.confirmed_ms.load(Ordering::SeqCst));
        self.origin.elapsed().saturating_sub(confirmed)
    }

    /// True while memory may decide requests: confirmed within the bound, and no gap
    /// past the bound waiting to be resynced.
    pub fn trusted(&self) -> bool {
        !self.stale.load(Ordering::SeqCst) && self.staleness() <= self.bound
    }

    /// Marks the bound passed when it is (the watchdog and requests may both notice);
    /// true the first time, so the caller logs it once.
    pub fn note_if_stale(&self) -> bool {
        self.staleness() > self.bound && !self.stale.swap(true, Ordering::SeqCst)
    }

    /// Records a read of the feed that reached its end and began at `read_began`. When it
    /// ends a gap past the bound, `resync` runs first (it publishes `Change::All`), and
    /// the gap is returned for the log.
    pub fn confirm(&self, read_began: Instant, resync: impl FnOnce()) -> Option<Duration> {
        let previous = Duration::from_millis(self.confirmed_ms.load(Ordering::SeqCst));
        let began = read_began.saturating_duration_since(self.origin);
        let gap = self.origin.elapsed().saturating_sub(previous);
        let past_bound =
            self.stale.load(Ordering::SeqCst) || began.saturating_sub(previous) > self.bound;
        if past_bound {
            resync();
        }
        let began_ms = u64::try_from(began.as_millis()).unwrap_or(u64::MAX);
        self.confirmed_ms.fetch_max(began_ms, Ordering::SeqCst);
        if past_bound {
            self.stale.store(false, Ordering::SeqCst);
        }
        past_bound.then_some(gap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_within_the_bound_and_only_after_a_resync_past_it() {
        let fresh = Freshness::new(Duration::from_millis(40));
        assert!(fresh.trusted());
        assert!(!fresh.note_if_stale());
        let mut resyncs = 0;
        assert_eq!(fresh.confirm(Instant::now(), || resyncs += 1), None);
        assert_eq!(resyncs, 0, "no gap, no resync");
        std::thread::sleep(Duration::from_millis(60));
        assert!(!fresh.trusted(), "past the bound");
        assert!(fresh.note_if_stale(), "noticed once");
        assert!(!fresh.note_if_stale(), "and only once");
        // A read that began now ends the gap: the resync runs before trust returns.
        let gap = fresh.confirm(Instant::now(), || resyncs += 1);
        assert!(
            gap.is_some_and(|d| d >= Duration::from_millis(60)),
            "{gap:?}"
        );
        assert_eq!(resyncs, 1);
        assert!(fresh.trusted());
    }

    #[test]
    fn a_read_counts_from_when_it_began() {
        let fresh = Freshness::new(Duration::from_millis(40));
        let began = Instant::now();
        std::thread::sleep(Duration::from_millis(60));
        // The read took longer than the bound: confirming it leaves the instance stale.
        fresh.confirm(began, || {});
        assert!(!fresh.trusted());
        // A gap past the bound resyncs even when nobody noticed it (no watchdog ran).
        let mut resynced = false;
        std::thread::sleep(Duration::from_millis(60));
        fresh.confirm(Instant::now(), || resynced = true);
        assert!(resynced);
        assert!(fresh.trusted());
    }
}

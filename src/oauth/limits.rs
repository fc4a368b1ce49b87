//! Brute-force protection for client authentication (RFC 6749 §2.3.1: the server MUST
//! protect endpoints that take passwords against brute force) and per-key token quotas.
//!
//! Failures are counted per *distinct* wrong credentials: a misconfigured worker that keeps
//! presenting one stale secret counts once (and is refused from memory, without argon2,
//! from then on), while a guesser, whose every guess is new, climbs the back-off. They are
//! counted three ways, each with increasing back-off once a threshold is passed:
//! - per source address: the address is locked; its cold requests get `429` with
//!   `Retry-After` (this says nothing about any client, only about the address);
//! - per client id *from one address*: that pair is locked; its cold requests get the
//!   usual `invalid_client` without a verification, so a guesser learns nothing;
//! - per client id from all addresses: failures are answered late (the back-off), never
//!   refused up front, so a botnet can slow its own guesses but never lock a client out.
//!
//! A request whose secret is in the verified-secret cache passes every lock: it proves the
//! right secret without argon2, so a legitimate client is never locked out by someone
//! else's failures. Only a client that shares its address with a guesser *and* has no
//! warm cache entry on that instance waits out the back-off: before argon2 runs, its
//! right secret cannot be told from one more guess.
//!
//! State is per instance and bounded. That is sound: the limits bound argon2 work, which
//! is per instance, and guesses per address, which N instances multiply by a constant N;
//! with 256-bit secrets no guess rate gets anywhere.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use time::OffsetDateTime;

/// Failures from one address before it is locked.
pub const ADDRESS_THRESHOLD: u32 = 20;
/// Failures of one client id from one address before the pair is locked.
pub const PAIR_THRESHOLD: u32 = 5;
/// Failures of one client id (all addresses) before its failures are answered late.
pub const CLIENT_THRESHOLD: u32 = 20;
/// First lock or delay; doubles with every further failure.
const BASE_BACKOFF: Duration = Duration::from_secs(1);
/// Longest lock.
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Longest delay of a failure answer.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Failures are forgotten after this long without one.
const FORGET_AFTER: Duration = Duration::from_secs(30 * 60);
/// Entries per table; under a flood of new identities, new ones go untracked rather
/// than evicting (and so resetting) the ones being attacked.
const MAX_ENTRIES: usize = 100_000;

/// What the limiter says about a request that needs a full (cold) verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Verify as usual.
    Open,
    /// The source address is locked: answer 429 with this `Retry-After`.
    AddressLocked(Duration),
    /// This client id is locked from this address: answer `invalid_client` unverified.
    PairLocked,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: OffsetDateTime,
}

impl Failures {
    /// The back-off after `count` failures with `threshold`, if past it.
    fn backoff(&self, threshold: u32, cap: Duration) -> Option<Duration> {
        let excess = self.count.checked_sub(threshold)?;
        let factor = 1u32.checked_shl(excess.min(20)).unwrap_or(u32::MAX);
        Some(BASE_BACKOFF.saturating_mul(factor).min(cap))
    }

    /// Time left of the lock at `now`, if any.
    fn locked_for(&self, threshold: u32, now: OffsetDateTime) -> Option<Duration> {
        let backoff = self.backoff(threshold, MAX_LOCK)?;
        let until = self.last + backoff;
        (until > now).then(|| (until - now).try_into().unwrap_or(Duration::ZERO))
    }
}

/// One table of failure counts, keyed by a keyed hash (fixed size whatever the input).
struct Table {
    hasher: RandomState,
    entries: Mutex<HashMap<u64, Failures>>,
    /// Entries, readable without the lock (successes skip an empty table cheaply).
    len: AtomicUsize,
}

impl Table {
    fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            entries: Mutex::new(HashMap::new()),
            len: AtomicUsize::new(0),
        }
    }

    fn key(&self, parts: &[&[u8]]) -> u64 {
        use std::hash::Hasher;
        let mut h = self.hasher.build_hasher();
        for part in parts {
            h.write_usize(part.len());
            h.write(part);
        }
        h.finish()
    }

    fn get(&self, key: u64, now: OffsetDateTime) -> Option<Failures> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&key)
            .copied()
            .filter(|f| now - f.last < FORGET_AFTER)
    }

    fn record(&self, key: u64, now: OffsetDateTime) -> Failures {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.retain(|_, f| now - f.last < FORGET_AFTER);
            if entries.len() >= MAX_ENTRIES {
                return Failures {
                    count: 0,
                    last: now,
                };
            }
        }
        let entry = entries.entry(key).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now - entry.last >= FORGET_AFTER {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        let failures = *entry;
        self.len.store(entries.len(), Ordering::Relaxed);
        failures
    }

    fn forget(&self, key: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(&key);
        self.len.store(entries.len(), Ordering::Relaxed);
    }

    fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }
}

/// Failed-authentication counters of this instance.
pub struct AuthLimiter {
    /// Keyed fingerprints of (client id, secret) pairs that failed recently.
    known_bad: Table,
    addresses: Table,
    pairs: Table,
    clients: Table,
    address_locks: AtomicU64,
    pair_locks: AtomicU64,
    failures: AtomicU64,
}

impl Default for AuthLimiter {
    fn default() -> Self {
        Self {
            known_bad: Table::new(),
            addresses: Table::new(),
            pairs: Table::new(),
            clients: Table::new(),
            address_locks: AtomicU64::new(0),
            pair_locks: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct LimiterStats {
    /// Failed authentications counted.
    pub failures: u64,
    /// Cold requests refused because their address was locked.
    pub address_refusals: u64,
    /// Cold requests refused because their client id was locked from their address.
    pub pair_refusals: u64,
    /// Addresses and client ids being tracked.
    pub tracked: usize,
}

fn address_bytes(address: &IpAddr) -> Vec<u8> {
    match address {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

impl AuthLimiter {
    /// A keyed fingerprint of presented credentials (the key is random per process; the
    /// secret itself is never kept).
    pub fn fingerprint(&self, client_id: &str, secret: &str) -> u64 {
        self.known_bad
            .key(&[client_id.as_bytes(), secret.as_bytes()])
    }

    /// Did exactly these credentials fail recently? They cannot have become right since
    /// (secrets are random), so they are refused without argon2 and not counted again.
    pub fn known_bad(&self, fingerprint: u64, now: OffsetDateTime) -> bool {
        self.known_bad.len() != 0 && self.known_bad.get(fingerprint, now).is_some()
    }

    /// May a cold verification of `client_id` from `source` go ahead?
    pub fn admit(&self, client_id: &str, source: Option<IpAddr>, now: OffsetDateTime) -> Admission {
        let Some(source) = source else {
            return Admission::Open;
        };
        if self.addresses.len() == 0 {
            return Admission::Open;
        }
        let address = address_bytes(&source);
        let locked = self
            .addresses
            .get(self.addresses.key(&[&address]), now)
            .and_then(|f| f.locked_for(ADDRESS_THRESHOLD, now));
        if let Some(left) = locked {
            self.address_locks.fetch_add(1, Ordering::Relaxed);
            // Retry-After is whole seconds; round up so a retry lands after the lock.
            return Admission::AddressLocked(Duration::from_secs(
                left.as_secs() + u64::from(left.subsec_nanos() > 0),
            ));
        }
        let pair = self.pairs.key(&[&address, client_id.as_bytes()]);
        if let Some(f) = self.pairs.get(pair, now)
            && f.locked_for(PAIR_THRESHOLD, now).is_some()
        {
            self.pair_locks.fetch_add(1, Ordering::Relaxed);
            return Admission::PairLocked;
        }
        Admission::Open
    }

    /// Notes a failed authentication with new credentials (unknown client id, wrong
    /// secret, or a guess at a locked pair) and returns how long to hold the answer back
    /// (the per-client-id back-off). `verified_wrong` is the fingerprint of credentials
    /// argon2 (or the lookup) proved wrong; they are refused from memory from now on.
    pub fn failed(
        &self,
        client_id: &str,
        verified_wrong: Option<u64>,
        source: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Duration {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if let Some(fingerprint) = verified_wrong {
            self.known_bad.record(fingerprint, now);
        }
        if let Some(source) = source {
            let address = address_bytes(&source);
            self.addresses.record(self.addresses.key(&[&address]), now);
            self.pairs
                .record(self.pairs.key(&[&address, client_id.as_bytes()]), now);
        }
        let client = self
            .clients
            .record(self.clients.key(&[client_id.as_bytes()]), now);
        client
            .backoff(CLIENT_THRESHOLD, MAX_DELAY)
            .unwrap_or(Duration::ZERO)
    }

    /// Notes a successful authentication: the pair's failures are forgotten (only the
    /// right secret can do that). The address's and the client id's are not, so an
    /// attacker cannot reset them with a key of its own.
    pub fn succeeded(&self, client_id: &str, source: Option<IpAddr>) {
        if self.pairs.len() == 0 {
            return;
        }
        if let Some(source) = source {
            let address = address_bytes(&source);
            self.pairs
                .forget(self.pairs.key(&[&address, client_id.as_bytes()]));
        }
    }

    /// Counters for `/metrics`.
    pub fn stats(&self) -> LimiterStats {
        LimiterStats {
            failures: self.failures.load(Ordering::Relaxed),
            address_refusals: self.address_locks.load(Ordering::Relaxed),
            pair_refusals: self.pair_locks.load(Ordering::Relaxed),
            tracked: self.known_bad.len()
                + self.addresses.len()
                + self.pairs.len()
                + self.clients.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

    /// A failure with a guess never made before.
    fn fail(
        limiter: &AuthLimiter,
        client_id: &str,
        source: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Duration {
        static GUESSES: AtomicU64 = AtomicU64::new(0);
        let guess = format!("kms_guess{}", GUESSES.fetch_add(1, Ordering::Relaxed));
        let fingerprint = limiter.fingerprint(client_id, &guess);
        assert!(!limiter.known_bad(fingerprint, now));
        limiter.failed(client_id, Some(fingerprint), source, now)
    }

    #[test]
    fn failed_credentials_are_known_bad_until_forgotten() {
        let limiter = AuthLimiter::default();
        let bad = limiter.fingerprint("kmc_x", "kms_old");
        assert!(!limiter.known_bad(bad, at(0)));
        limiter.failed("kmc_x", Some(bad), A, at(0));
        // An unverified (locked) attempt is counted but never becomes known-bad.
        let unverified = limiter.fingerprint("kmc_x", "kms_right");
        limiter.failed("kmc_x", None, A, at(0));
        assert!(!limiter.known_bad(unverified, at(1)));
        assert!(limiter.known_bad(bad, at(1)));
        assert!(!limiter.known_bad(limiter.fingerprint("kmc_x", "kms_new"), at(1)));
        assert!(!limiter.known_bad(limiter.fingerprint("kmc_y", "kms_old"), at(1)));
        assert!(!limiter.known_bad(bad, at(0) + FORGET_AFTER));
    }

    #[test]
    fn a_pair_locks_after_its_threshold_and_backs_off_exponentially() {
        let limiter = AuthLimiter::default();
        for _ in 0..PAIR_THRESHOLD - 1 {
            fail(&limiter, "kmc_x", A, at(0));
        }
        assert_eq!(limiter.admit("kmc_x", A, at(0)), Admission::Open);
        fail(&limiter, "kmc_x", A, at(0));
        assert_eq!(limiter.admit("kmc_x", A, at(0)), Admission::PairLocked);
        // Other addresses and other client ids are untouched.
        assert_eq!(limiter.admit("kmc_x", B, at(0)), Admission::Open);
        assert_eq!(limiter.admit("kmc_y", A, at(0)), Admission::Open);
        // 1 s lock, then 2 s after the next failure, then 4 s.
        assert_eq!(limiter.admit("kmc_x", A, at(1)), Admission::Open);
        fail(&limiter, "kmc_x", A, at(1));
        assert_eq!(limiter.admit("kmc_x", A, at(2)), Admission::PairLocked);
        assert_eq!(limiter.admit("kmc_x", A, at(3)), Admission::Open);
        fail(&limiter, "kmc_x", A, at(3));
        assert_eq!(limiter.admit("kmc_x", A, at(6)), Admission::PairLocked);
        assert_eq!(limiter.admit("kmc_x", A, at(7)), Admission::Open);
        // The right secret clears the pair.
        limiter.succeeded("kmc_x", A);
        fail(&limiter, "kmc_x", A, at(7));
        assert_eq!(limiter.admit("kmc_x", A, at(7)), Admission::Open);
    }

    #[test]
    fn an_address_locks_after_failures_on_any_client_ids() {
        let limiter = AuthLimiter::default();
        for i in 0..ADDRESS_THRESHOLD {
            fail(&limiter, &format!("kmc_{i}"), A, at(0));
        }
        assert_eq!(
            limiter.admit("kmc_new", A, at(0)),
            Admission::AddressLocked(Duration::from_secs(1))
        );
        assert_eq!(limiter.admit("kmc_new", B, at(0)), Admission::Open);
        // A success does not unlock the address.
        limiter.succeeded("kmc_mine", A);
        assert!(matches!(
            limiter.admit("kmc_new", A, at(0)),
            Admission::AddressLocked(_)
        ));
        // Failures are forgotten after a quiet spell.
        let later = at(0) + FORGET_AFTER;
        assert_eq!(limiter.admit("kmc_new", A, later), Admission::Open);
    }

    #[test]
    fn a_client_id_under_distributed_attack_is_delayed_never_locked() {
        let limiter = AuthLimiter::default();
        let mut delay = Duration::ZERO;
        for i in 0..CLIENT_THRESHOLD + 10 {
            let source = Some(IpAddr::V4(std::net::Ipv4Addr::from(i)));
            delay = fail(&limiter, "kmc_x", source, at(0));
            assert_eq!(limiter.admit("kmc_x", B, at(0)), Admission::Open);
        }
        assert_eq!(delay, MAX_DELAY);
    }

    #[test]
    fn locks_are_capped() {
        let limiter = AuthLimiter::default();
        for _ in 0..200 {
            fail(&limiter, "kmc_x", A, at(0));
        }
        assert_eq!(
            limiter.admit("kmc_y", A, at(0)),
            Admission::AddressLocked(MAX_LOCK)
        );
        assert!(matches!(
            limiter.admit("kmc_y", A, at(0) + MAX_LOCK),
            Admission::Open
        ));
    }

    #[test]
    fn no_source_address_means_no_address_limits() {
        let limiter = AuthLimiter::default();
        for _ in 0..100 {
            fail(&limiter, "kmc_x", None, at(0));
        }
        assert_eq!(limiter.admit("kmc_x", None, at(0)), Admission::Open);
    }
}

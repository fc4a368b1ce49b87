//! Brute-force protection for client authentication (RFC 6749 §2.3.1: the server MUST
//! protect endpoints that take passwords against brute force).
//!
//! Limits apply to **failures only**. A request is judged after its credentials are
//! checked, and a wrong secret costs microseconds (check tags, [`crate::secrets::check_tag`]),
//! so nothing has to be refused up front to save CPU. A request carrying the right secret
//! of a usable key is therefore never delayed or refused because of anybody's failures,
//! not even those of a guesser behind the same NAT. Failures (unknown client id, wrong
//! secret) are counted two ways, each with a back-off once its threshold is passed:
//! - per source address (IPv6 per /64, since one host holds a whole /64): its further
//!   failures are answered `429` with `Retry-After`, exponentially longer up to 15 min;
//! - per client id from all addresses: its failures are answered late (1 s, doubling,
//!   at most 5 s), so a botnet spreading guesses over addresses slows its own guesses.
//!
//! State is per instance and bounded: each table keeps two generations of at most
//! `MAX_ENTRIES / 2` entries; when the current one fills, the older is dropped. That is
//! O(1) amortised work per failure (no scan under the lock), and an identity under
//! attack, touched by every failure, always lives in the current generation. Per-instance
//! state is sound here: N instances multiply the guess rate by a constant N, and with
//! 256-bit secrets no guess rate gets anywhere.

mod table;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use time::OffsetDateTime;

use table::Table;

/// Failures from one address before its failures are answered 429.
pub const ADDRESS_THRESHOLD: u32 = 20;
/// Console sign-ins one address may start per [`SIGN_IN_WINDOW`] (an office behind one
/// NAT signs in many people; a loop of starts is stopped, and with rows expiring after
/// ten minutes, one address holds at most about twice this many).
pub const SIGN_IN_THRESHOLD: u32 = 100;
/// The window of [`SIGN_IN_THRESHOLD`].
pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(600);
/// Failures of one client id (all addresses) before its failures are answered late.
pub const CLIENT_THRESHOLD: u32 = 20;
/// First back-off; doubles with every further failure.
const BASE_BACKOFF: Duration = Duration::from_secs(1);
/// Longest `Retry-After` of an address.
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Longest delay of a failure answer.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Failures are forgotten after this long without one.
const FORGET_AFTER: Duration = Duration::from_secs(30 * 60);
/// Entries per table (both generations together).
const MAX_ENTRIES: usize = 100_000;

/// How to answer a failed authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `invalid_client` at once.
    Refuse,
    /// `invalid_client` after this delay.
    Late(Duration),
    /// The address is past its threshold: `429` with this `Retry-After`.
    TooMany(Duration),
}

/// Failed-authentication counters of this instance.
pub struct AuthLimiter {
    addresses: Table,
    clients: Table,
    too_many: AtomicU64,
    late: AtomicU64,
    failures: AtomicU64,
}

impl Default for AuthLimiter {
    fn default() -> Self {
        Self {
            addresses: Table::new(),
            clients: Table::new(),
            too_many: AtomicU64::new(0),
            late: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct LimiterStats {
    /// Failed authentications counted.
    pub failures: u64,
    /// Failures answered 429 because their address was past its threshold.
    pub too_many: u64,
    /// Failures answered late.
    pub late: u64,
    /// Addresses and client ids being tracked.
    pub tracked: usize,
}

/// The part of an address that identifies one client host: an IPv4 address, or an IPv6
/// /64 (IPv4-mapped IPv6 counts as the IPv4 address).
fn address_bytes(address: &IpAddr) -> Vec<u8> {
    match address.to_canonical() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets()[..8].to_vec(),
    }
}

impl AuthLimiter {
    /// Counts a failed authentication (unknown client id or wrong secret) of `client_id`
    /// from `source` and says how to answer it.
    pub fn failed(&self, client_id: &str, source: Option<IpAddr>, now: OffsetDateTime) -> Verdict {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let client = self
            .clients
            .record(self.clients.key(&[client_id.as_bytes()]), now);
        if let Some(source) = source {
            let address = address_bytes(&source);
            let by_address = self.addresses.record(self.addresses.key(&[&address]), now);
            if let Some(lock) = by_address.backoff(ADDRESS_THRESHOLD, MAX_LOCK) {
                self.too_many.fetch_add(1, Ordering::Relaxed);
                return Verdict::TooMany(lock);
            }
        }
        match client.backoff(CLIENT_THRESHOLD, MAX_DELAY) {
            Some(delay) => {
                self.late.fetch_add(1, Ordering::Relaxed);
                Verdict::Late(delay)
            }
            None => Verdict::Refuse,
        }
    }

    /// Counts a failure that names no client (an unknown console sign-in link, a
    /// callback with a `state` nobody started) from `source`; `Some(retry_after)` once
    /// the address is past its threshold, as for client failures (the same count).
    pub fn address_failed(&self, source: Option<IpAddr>, now: OffsetDateTime) -> Option<Duration> {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let address = address_bytes(&source?);
        let lock = self
            .addresses
            .record(self.addresses.key(&[&address]), now)
            .backoff(ADDRESS_THRESHOLD, MAX_LOCK);
        if lock.is_some() {
            self.too_many.fetch_add(1, Ordering::Relaxed);
        }
        lock
    }

    /// Counts a console sign-in started from `source` (each writes a row until it is
    /// finished or expires, before anyone is authenticated); `Some(retry_after)` once the
    /// address started [`SIGN_IN_THRESHOLD`] in the current window of [`SIGN_IN_WINDOW`]:
    /// a fixed window, so an office behind one NAT is never locked out for long.
    pub fn sign_in_started(&self, source: Option<IpAddr>, now: OffsetDateTime) -> Option<Duration> {
        let address = address_bytes(&source?);
        let window = SIGN_IN_WINDOW.as_secs() as i64;
        let (index, into) = (
            now.unix_timestamp().div_euclid(window),
            now.unix_timestamp().rem_euclid(window),
        );
        let key = self
            .addresses
            .key(&[b"sign-in", &address, &index.to_be_bytes()]);
        let started = self.addresses.record(key, now);
        if started.count <= SIGN_IN_THRESHOLD {
            return None;
        }
        self.too_many.fetch_add(1, Ordering::Relaxed);
        Some(Duration::from_secs(
            u64::try_from(window - into).unwrap_or(1).max(1),
        ))
    }

    /// Counters for `/metrics`.
    pub fn stats(&self) -> LimiterStats {
        LimiterStats {
            failures: self.failures.load(Ordering::Relaxed),
            too_many: self.too_many.load(Ordering::Relaxed),
            late: self.late.load(Ordering::Relaxed),
            tracked: self.addresses.len() + self.clients.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    fn v4(last: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, last)))
    }

    #[test]
    fn an_address_past_its_threshold_gets_429_growing_to_the_cap() {
        let limiter = AuthLimiter::default();
        for i in 0..ADDRESS_THRESHOLD {
            let verdict = limiter.failed(&format!("kmc_{i}"), v4(1), at(0));
            assert_eq!(verdict, Verdict::Refuse);
        }
        assert_eq!(
            limiter.failed("kmc_new", v4(1), at(0)),
            Verdict::TooMany(Duration::from_secs(1))
        );
        assert_eq!(
            limiter.failed("kmc_new", v4(1), at(0)),
            Verdict::TooMany(Duration::from_secs(2))
        );
        assert_eq!(limiter.failed("kmc_other", v4(2), at(0)), Verdict::Refuse);
        for _ in 0..100 {
            limiter.failed("kmc_new", v4(1), at(0));
        }
        assert_eq!(
            limiter.failed("kmc_new", v4(1), at(0)),
            Verdict::TooMany(MAX_LOCK)
        );
        assert_eq!(limiter.stats().too_many, 103);
        // kmc_new, failing ~100 times, is past its own threshold from any address.
        assert!(matches!(
            limiter.failed("kmc_new", v4(3), at(0)),
            Verdict::Late(_)
        ));
        // Failures are forgotten after a quiet spell.
        assert_eq!(
            limiter.failed("kmc_other", v4(1), at(0) + FORGET_AFTER),
            Verdict::Refuse
        );
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let limiter = AuthLimiter::default();
        for i in 0..ADDRESS_THRESHOLD {
            let ip: IpAddr = format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap();
            limiter.failed(&format!("kmc_{i}"), Some(ip), at(0));
        }
        let same_64: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(matches!(
            limiter.failed("kmc_z", Some(same_64), at(0)),
            Verdict::TooMany(_)
        ));
        assert_eq!(
            limiter.failed("kmc_y", Some(other_64), at(0)),
            Verdict::Refuse
        );
        let mapped: IpAddr = "::ffff:10.0.0.9".parse().unwrap();
        assert_eq!(address_bytes(&mapped), address_bytes(&v4(9).unwrap()));
    }

    #[test]
    fn a_client_id_under_distributed_attack_is_answered_late_never_429() {
        let limiter = AuthLimiter::default();
        let verdicts: Vec<Verdict> = (0..CLIENT_THRESHOLD + 4)
            .map(|i| limiter.failed("kmc_x", Some(IpAddr::V4(i.into())), at(0)))
            .collect();
        assert!(
            verdicts[..CLIENT_THRESHOLD as usize]
                .iter()
                .all(|v| *v == Verdict::Refuse)
        );
        let secs = |s| Verdict::Late(Duration::from_secs(s));
        assert_eq!(
            verdicts[CLIENT_THRESHOLD as usize..],
            [secs(1), secs(2), secs(4), secs(5)]
        );
        assert_eq!(limiter.stats().late, 4);
    }

    #[test]
    fn tables_stay_bounded_and_keep_the_identity_under_attack() {
        let table = Table::new();
        let attacked = table.key(&[b"attacked"]);
        for i in 0..(MAX_ENTRIES * 2) as u64 {
            table.record(i, at(0));
            if i % 1000 == 0 {
                table.record(attacked, at(0));
            }
        }
        assert!(table.len() <= MAX_ENTRIES, "{}", table.len());
        assert!(table.record(attacked, at(0)).count > 100);
    }
}

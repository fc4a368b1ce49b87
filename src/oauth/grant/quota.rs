//! Per-key token quotas (`KEYMINT_TOKEN_RATE_LIMIT` tokens per minute per key per
//! instance): a token bucket per client id, checked only after authentication succeeded,
//! so nobody without the secret can spend a key's quota.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use time::OffsetDateTime;

/// Token buckets of the keys that minted recently.
pub struct TokenQuota {
    per_minute: Option<u32>,
    buckets: Mutex<HashMap<String, Bucket>>,
    refused: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: OffsetDateTime,
}

impl TokenQuota {
    /// A quota of `per_minute` tokens per key, or none.
    pub fn new(per_minute: Option<u32>) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
            refused: AtomicU64::new(0),
        }
    }

    /// Takes one token for `client_id`; `Err(retry_after)` when the key is over quota.
    /// The bucket holds a minute's worth, so a client may burst its whole quota at once.
    pub fn take(&self, client_id: &str, now: OffsetDateTime) -> Result<(), Duration> {
        let Some(per_minute) = self.per_minute else {
            return Ok(());
        };
        let capacity = f64::from(per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Full buckets carry no information; dropping them keeps the map small.
            buckets
                .retain(|_, b| b.tokens + (now - b.last).as_seconds_f64() * per_second < capacity);
        }
        // Looked up borrowed: only a client's first token allocates its bucket's id.
        if !buckets.contains_key(client_id) {
            buckets.insert(
                client_id.to_owned(),
                Bucket {
                    tokens: capacity,
                    last: now,
                },
            );
        }
        let bucket = buckets
            .get_mut(client_id)
            .expect("the bucket was inserted above, under the same lock");
        let elapsed = (now - bucket.last).as_seconds_f64().max(0.0);
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            let wait = (1.0 - bucket.tokens) / per_second;
            Err(Duration::from_secs(wait.ceil().max(1.0) as u64))
        }
    }

    /// Requests refused for quota so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    #[test]
    fn a_key_gets_its_quota_per_minute_and_no_more() {
        let quota = TokenQuota::new(Some(3));
        for _ in 0..3 {
            assert_eq!(quota.take("kmc_a", at(0)), Ok(()));
        }
        assert_eq!(quota.take("kmc_a", at(0)), Err(Duration::from_secs(20)));
        // Another key has its own bucket.
        assert_eq!(quota.take("kmc_b", at(0)), Ok(()));
        // One token back every 20 s.
        assert!(quota.take("kmc_a", at(19)).is_err());
        assert_eq!(quota.take("kmc_a", at(21)), Ok(()));
        assert_eq!(quota.refused(), 2);
    }

    #[test]
    fn no_quota_means_no_limit() {
        let quota = TokenQuota::new(None);
        for _ in 0..10_000 {
            assert_eq!(quota.take("kmc_a", at(0)), Ok(()));
        }
    }
}

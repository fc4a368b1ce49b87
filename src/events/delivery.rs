//! Delivering lifecycle events from the outbox to `KEYMINT_EVENTS_URL`, signed the
//! Standard Webhooks way (`webhook-id` = the event's id, so a receiver deduplicates a
//! redelivery). Any instance with the setting delivers: a claim leases events for
//! [`LEASE`], so no two send one event at once, and a deliverer killed mid-send leaves the
//! lease to run out (the event is sent again: at least once). A failure is retried with
//! exponential backoff and jitter until the event's 24-hour window ends, then set aside.
//! Its own task: a slow receiver holds only this loop, never the token path or the
//! change feed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

use super::{WebhookSecret, sign};
use crate::clock::Clock;
use crate::store::{OutboxEvent, Store};

/// How long a claimed event is held: longer than a send can take.
pub const LEASE: time::Duration = time::Duration::seconds(60);
/// A send's whole time limit.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Events claimed at once (each of another key or user; sent side by side).
const BATCH: u32 = 16;
/// How often the outbox is looked at when nothing was due.
const POLL: Duration = Duration::from_millis(500);
/// Backoff: the first retry after this, doubling, at most [`MAX_BACKOFF`].
const FIRST_BACKOFF: time::Duration = time::Duration::seconds(5);
const MAX_BACKOFF: time::Duration = time::Duration::hours(1);
/// Longest error text kept with an event.
const MAX_ERROR_LEN: usize = 300;

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// Events the receiver accepted.
    pub delivered: AtomicU64,
    /// Attempts that failed (each is retried or set aside).
    pub failed: AtomicU64,
}

/// See the module documentation.
pub struct Deliverer {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// `KEYMINT_EVENTS_URL`.
    url: String,
    /// `KEYMINT_EVENTS_SECRET`.
    secret: WebhookSecret,
    http: reqwest::Client,
    stats: Arc<DeliveryStats>,
}

impl Deliverer {
    /// A deliverer to `url`, signing with `secret`, counting into `stats`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        url: String,
        secret: WebhookSecret,
        stats: Arc<DeliveryStats>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            store,
            clock,
            url,
            secret,
            http,
            stats,
        }
    }

    /// Delivers until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let sent = self.deliver_due().await;
            if sent == 0 {
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => return,
                    () = tokio::time::sleep(POLL) => {}
                }
            } else if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Claims what is due and sends it; how many were claimed.
    pub async fn deliver_due(self: &Arc<Self>) -> usize {
        let now = self.clock.now();
        let claimed = match self.store.claim_events(now, now + LEASE, BATCH).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "reading the event outbox failed; will retry");
                return 0;
            }
        };
        let count = claimed.len();
        let mut sends = tokio::task::JoinSet::new();
        for event in claimed {
            let this = Arc::clone(self);
            sends.spawn(async move { this.deliver(&event).await });
        }
        while sends.join_next().await.is_some() {}
        count
    }

    async fn deliver(&self, event: &OutboxEvent) {
        let outcome = self.send(event).await;
        let recorded = match &outcome {
            Ok(()) => {
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                self.store.event_delivered(&event.id).await
            }
            Err(why) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                let next = self.clock.now() + backoff(event.attempts);
                tracing::info!(id = %event.id, kind = %event.kind, attempts = event.attempts, error = %why, "delivering a lifecycle event failed; will retry");
                self.store.event_failed(&event.id, why, next).await
            }
        };
        if let Err(e) = recorded {
            // The lease runs out and the event is sent again: at least once.
            tracing::warn!(id = %event.id, error = %e, "recording a delivery failed");
        }
    }

    async fn send(&self, event: &OutboxEvent) -> Result<(), String> {
        // The signing time is when it is sent (wall time): receivers check it against
        // their own clock.
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = sign(&self.secret, &event.id, timestamp, event.body.as_bytes());
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(event.body.clone())
            .send()
            .await
            .map_err(|e| short(&format!("sending failed: {e}")))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the endpoint answered {status}"))
        }
    }
}

/// The wait before attempt `attempts + 1`: 5 s doubling to an hour, times a jitter of
/// 0.5 to 1 so deliverers retrying one outage do not arrive together.
fn backoff(attempts: u32) -> time::Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    let full = (FIRST_BACKOFF * 2_i32.pow(doublings)).min(MAX_BACKOFF);
    let mut byte = [0u8; 1];
    let _ = aws_lc_rs::rand::fill(&mut byte);
    full * (0.5 + f64::from(byte[0]) / 510.0)
}

fn short(text: &str) -> String {
    text.chars().take(MAX_ERROR_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_an_hour() {
        for attempts in 1..40_u32 {
            let full =
                (FIRST_BACKOFF * 2_i32.pow(attempts.saturating_sub(1).min(16))).min(MAX_BACKOFF);
            let wait = backoff(attempts);
            assert!(wait >= full / 2 && wait <= full, "{attempts}: {wait}");
        }
        assert!(backoff(1) <= time::Duration::seconds(5));
        assert!(backoff(30) >= time::Duration::minutes(30));
    }
}

//! `GET /metrics`: Prometheus text exposition of Keymint's counters and gauges.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use std::sync::atomic::Ordering::Relaxed;

use std::sync::Arc;

use crate::changes::ChangeFeed;
use crate::metrics::{Family, RequestMetrics};
use crate::oauth::{AuthLimiter, TokenQuota, VerifiedCache};
use crate::secrets::SecretHasher;
use crate::store::Store;
use crate::sync::SyncStatus;

/// Everything `/metrics` reads.
pub struct MetricsSources {
    /// The sync task's counters.
    pub sync: Arc<SyncStatus>,
    /// The verified-secret cache.
    pub cache: Arc<VerifiedCache>,
    /// Introspection's verified tokens.
    pub token_cache: Arc<crate::oauth::TokenCache>,
    /// The argon2id pool.
    pub hasher: Arc<SecretHasher>,
    /// Failed-authentication counters.
    pub limiter: Arc<AuthLimiter>,
    /// The change feed (its generation).
    pub changes: Arc<ChangeFeed>,
    /// Per-key token quotas.
    pub quota: Arc<TokenQuota>,
    /// Token outcomes and latencies.
    pub requests: Arc<RequestMetrics>,
    /// The database pool.
    pub store: Arc<dyn Store>,
    /// The user-events webhook.
    pub webhook: Arc<crate::events::WebhookState>,
    /// Federated keys' requests whose outside token was remembered.
    pub outside_token_hits: Arc<std::sync::atomic::AtomicU64>,
    /// Lifecycle events this instance delivered or failed to.
    pub delivery: Arc<crate::events::delivery::DeliveryStats>,
    /// The token status lists.
    pub status_lists: Arc<crate::status_list::StatusLists>,
}

/// Renders the metrics.
pub async fn metrics(State(state): State<Arc<MetricsSources>>) -> impl IntoResponse {
    let (sync, cache, hasher) = (&state.sync, state.cache.stats(), state.hasher.stats());
    let limiter = state.limiter.stats();
    let mut families: Vec<Family> = [
        (
            "keymint_user_events_applied_total",
            "counter",
            "keymint_user_events rows applied by this instance.",
            sync.events_applied.load(Relaxed) as f64,
        ),
        (
            "keymint_webhook_events_applied_total",
            "counter",
            "User events applied from the signed webhook by this instance (duplicates and stale events not counted).",
            state.webhook.applied.load(Relaxed) as f64,
        ),
        (
            "keymint_user_events_rejected_total",
            "counter",
            "keymint_user_events rows that could not be applied (reason recorded on the row).",
            sync.events_rejected.load(Relaxed) as f64,
        ),
        (
            "keymint_user_events_pending",
            "gauge",
            "Unprocessed keymint_user_events rows at the last look.",
            sync.backlog.load(Relaxed) as f64,
        ),
        (
            "keymint_user_events_lag_seconds",
            "gauge",
            "Age of the oldest unprocessed keymint_user_events row (0 when none).",
            sync.lag_ms.load(Relaxed) as f64 / 1000.0,
        ),
        (
            "keymint_listener_connected",
            "gauge",
            "1 while the database notification connection is up (always 1 on SQLite).",
            if sync.connected() { 1.0 } else { 0.0 },
        ),
        (
            "keymint_listener_connects_total",
            "counter",
            "Times the database notification connection was established (reconnects included).",
            sync.connects.load(Relaxed) as f64,
        ),
        (
            "keymint_signing_key_reload_failures_total",
            "counter",
            "Signing-key reloads that failed (a stored key this instance cannot open); the keys in use stay.",
            sync.signing_key_reload_failures.load(Relaxed) as f64,
        ),
        (
            "keymint_changes_published_total",
            "counter",
            "Key and user changes published to this instance's in-memory subscribers.",
            state.changes.published() as f64,
        ),
        (
            "keymint_feed_staleness_seconds",
            "gauge",
            "Time since this instance last confirmed the change feed; past KEYMINT_MAX_STALENESS the caches are bypassed and the database answers.",
            state.changes.freshness().staleness().as_secs_f64(),
        ),
        (
            "keymint_feed_trusted",
            "gauge",
            "1 while memory (caches, key states, revocations) may decide requests: the feed was confirmed within KEYMINT_MAX_STALENESS.",
            if state.changes.trusted() { 1.0 } else { 0.0 },
        ),
        (
            "keymint_token_cache_hits_total",
            "counter",
            "Token requests answered from the verified-secret cache.",
            cache.hits.load(Relaxed) as f64,
        ),
        (
            "keymint_token_cache_misses_total",
            "counter",
            "Token requests that needed a full argon2id verification.",
            cache.misses.load(Relaxed) as f64,
        ),
        (
            "keymint_token_cache_invalidations_total",
            "counter",
            "Cache entries dropped because their key or owner changed.",
            cache.invalidations.load(Relaxed) as f64,
        ),
        (
            "keymint_token_cache_entries",
            "gauge",
            "Entries in the verified-secret cache.",
            state.cache.len() as f64,
        ),
        (
            "keymint_outside_token_cache_hits_total",
            "counter",
            "Federated keys' token requests whose outside token was already verified (until its exp).",
            state.outside_token_hits.load(Relaxed) as f64,
        ),
        (
            "keymint_introspection_cache_hits_total",
            "counter",
            "Introspections answered from the cache of verified tokens.",
            state.token_cache.stats().hits.load(Relaxed) as f64,
        ),
        (
            "keymint_introspection_cache_misses_total",
            "counter",
            "Introspections that verified the token and read the database.",
            state.token_cache.stats().misses.load(Relaxed) as f64,
        ),
        (
            "keymint_introspection_cache_invalidations_total",
            "counter",
            "Cached tokens dropped because their key, owner, signing keys or revocation changed.",
            state.token_cache.stats().invalidations.load(Relaxed) as f64,
        ),
        (
            "keymint_introspection_cache_entries",
            "gauge",
            "Tokens in the introspection cache.",
            state.token_cache.len() as f64,
        ),
        (
            "keymint_argon2_queue_depth",
            "gauge",
            "argon2id jobs waiting for a thread.",
            hasher.queued.load(Relaxed) as f64,
        ),
        (
            "keymint_argon2_jobs_total",
            "counter",
            "argon2id hashes and verifications run.",
            hasher.completed.load(Relaxed) as f64,
        ),
        (
            "keymint_argon2_rejected_total",
            "counter",
            "argon2id jobs refused because of overload (answered 503).",
            hasher.rejected.load(Relaxed) as f64,
        ),
        (
            "keymint_argon2_wait_seconds_total",
            "counter",
            "Total time argon2id jobs waited in the queue.",
            hasher.wait_micros.load(Relaxed) as f64 / 1e6,
        ),
        (
            "keymint_argon2_threads",
            "gauge",
            "argon2id worker threads.",
            state.hasher.threads() as f64,
        ),
    ]
    .into_iter()
    .map(|(name, kind, help, value)| Family::single(name, kind, help, value))
    .collect();
    families.push(Family {
        name: "keymint_auth_refused_total",
        kind: "counter",
        help: "Failed client authentications answered 429 because their address is past its threshold.",
        samples: vec![("{lock=\"address\"}".into(), limiter.too_many as f64)],
    });
    families.extend([
        Family::single(
            "keymint_auth_failures_total",
            "counter",
            "Failed client authentications (unknown client id or wrong secret).",
            limiter.failures as f64,
        ),
        Family::single(
            "keymint_auth_delayed_total",
            "counter",
            "Failed client authentications answered late (brute-force back-off).",
            limiter.late as f64,
        ),
        Family::single(
            "keymint_auth_limiter_entries",
            "gauge",
            "Addresses, client ids and pairs with recent failures being tracked.",
            limiter.tracked as f64,
        ),
        Family::single(
            "keymint_token_quota_refused_total",
            "counter",
            "Token requests refused because the key was over KEYMINT_TOKEN_RATE_LIMIT.",
            state.quota.refused() as f64,
        ),
    ]);
    families.extend(state.requests.families());
    families.extend(events_families(&state).await);
    let lists = state.status_lists.stats();
    families.extend([
        Family::single(
            "keymint_status_list_builds_total",
            "counter",
            "Status lists rendered and signed by this instance (after a change, an expiry, or half their ttl).",
            lists.builds.load(Relaxed) as f64,
        ),
        Family::single(
            "keymint_status_list_build_seconds",
            "gauge",
            "How long the last status list build took to render, compress and sign.",
            lists.last_build_us.load(Relaxed) as f64 / 1e6,
        ),
        Family::single(
            "keymint_status_list_token_bytes",
            "gauge",
            "Size of the largest status list token of the last build.",
            lists.last_token_bytes.load(Relaxed) as f64,
        ),
    ]);
    let pool = state.store.pool_usage();
    families.push(Family {
        name: "keymint_db_connections",
        kind: "gauge",
        help: "Database pool connections by state (max is the pool's limit).",
        samples: vec![
            ("{state=\"open\"}".into(), f64::from(pool.open)),
            ("{state=\"idle\"}".into(), f64::from(pool.idle)),
            ("{state=\"max\"}".into(), f64::from(pool.max)),
        ],
    });
    let mut out = String::new();
    for family in &families {
        family.render(&mut out);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// Lifecycle events: what this instance delivered, and the outbox every instance shares
/// (left out when the database does not answer within a second).
async fn events_families(state: &MetricsSources) -> Vec<Family> {
    let mut families = vec![
        Family::single(
            "keymint_events_delivered_total",
            "counter",
            "Lifecycle events this instance delivered to KEYMINT_EVENTS_URL.",
            state.delivery.delivered.load(Relaxed) as f64,
        ),
        Family::single(
            "keymint_events_failed_total",
            "counter",
            "Delivery attempts of lifecycle events that failed (retried, or set aside after 24 h).",
            state.delivery.failed.load(Relaxed) as f64,
        ),
    ];
    let outbox = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        state.store.outbox_state(),
    )
    .await;
    if let Ok(Ok(outbox)) = outbox {
        families.push(Family {
            name: "keymint_events_outbox",
            kind: "gauge",
            help: "Lifecycle events in the outbox: pending (waiting or retrying) and set_aside (not delivered within 24 h; keymint events retry).",
            samples: vec![
                ("{state=\"pending\"}".into(), outbox.pending as f64),
                ("{state=\"set_aside\"}".into(), outbox.set_aside as f64),
            ],
        });
    }
    families
}

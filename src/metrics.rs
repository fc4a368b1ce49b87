//! `GET /metrics`: Prometheus text exposition of Keymint's counters and gauges.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::app::AppState;

/// Renders the metrics.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let sync = &state.sync;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    gauge(
        "keymint_user_events_applied_total",
        "keymint_user_events rows applied by this instance.",
        "counter",
        sync.events_applied.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "keymint_user_events_rejected_total",
        "keymint_user_events rows that could not be applied (reason recorded on the row).",
        "counter",
        sync.events_rejected.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "keymint_user_events_pending",
        "Unprocessed keymint_user_events rows at the last look.",
        "gauge",
        sync.backlog.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "keymint_user_events_lag_seconds",
        "Age of the oldest unprocessed keymint_user_events row (0 when none).",
        "gauge",
        sync.lag_ms.load(Ordering::Relaxed) as f64 / 1000.0,
    );
    gauge(
        "keymint_listener_connected",
        "1 while the database notification connection is up (always 1 on SQLite).",
        "gauge",
        if sync.connected() { 1.0 } else { 0.0 },
    );
    gauge(
        "keymint_listener_connects_total",
        "Times the database notification connection was established (reconnects included).",
        "counter",
        sync.connects.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "keymint_changes_published_total",
        "Key and user changes published to this instance's in-memory subscribers.",
        "counter",
        state.changes.generation() as f64,
    );
    let cache = state.cache.stats();
    gauge(
        "keymint_token_cache_hits_total",
        "Token requests answered from the verified-secret cache.",
        "counter",
        cache.hits.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "keymint_token_cache_misses_total",
        "Token requests that needed a full argon2id verification.",
        "counter",
        cache.misses.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "keymint_token_cache_invalidations_total",
        "Cache entries dropped because their key or owner changed.",
        "counter",
        cache.invalidations.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "keymint_token_cache_entries",
        "Entries in the verified-secret cache.",
        "gauge",
        state.cache.len() as f64,
    );
    let hasher = state.hasher.stats();
    gauge(
        "keymint_argon2_queue_depth",
        "argon2id jobs waiting for a thread.",
        "gauge",
        hasher.queued.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "keymint_argon2_jobs_total",
        "argon2id hashes and verifications run.",
        "counter",
        hasher.completed.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "keymint_argon2_rejected_total",
        "argon2id jobs refused because of overload (answered 503).",
        "counter",
        hasher.rejected.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "keymint_argon2_wait_seconds_total",
        "Total time argon2id jobs waited in the queue.",
        "counter",
        hasher.wait_micros.load(Ordering::Relaxed) as f64 / 1e6,
    );
    gauge(
        "keymint_argon2_threads",
        "argon2id worker threads.",
        "gauge",
        state.hasher.threads() as f64,
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

//! `GET /metrics`: Prometheus text exposition of Keymint's counters and gauges.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use crate::app::AppState;

/// Renders the metrics.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let (sync, cache, hasher) = (&state.sync, state.cache.stats(), state.hasher.stats());
    let metrics: [(&str, &str, &str, f64); 16] = [
        (
            "keymint_user_events_applied_total",
            "counter",
            "keymint_user_events rows applied by this instance.",
            sync.events_applied.load(Relaxed) as f64,
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
            "keymint_changes_published_total",
            "counter",
            "Key and user changes published to this instance's in-memory subscribers.",
            state.changes.generation() as f64,
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
    ];
    let mut out = String::new();
    for (name, kind, help, value) in metrics {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

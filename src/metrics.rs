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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

//! `/healthz` (the process answers) and `/readyz` (database reachable, signing keys loaded).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::http::AppState;

/// Liveness: answers while the process runs.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: 200 when the database answers and every environment has a signing key,
/// otherwise 503 with the reasons.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let mut problems = Vec::new();
    if let Err(e) = state.store.ping().await {
        tracing::warn!(error = %e, "readiness: database unreachable");
        problems.push("database unreachable".to_owned());
    }
    if !state.keys.is_complete(&state.config.environment_names()) {
        problems.push("signing keys missing".to_owned());
    }
    if let Some(reason) = state.sync.listener_problem() {
        problems.push(format!("database notifications down: {reason}"));
    }
    if problems.is_empty() {
        (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ready"})),
        )
            .into_response()
    } else {
        let body = serde_json::json!({"status": "not ready", "problems": problems});
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    }
}

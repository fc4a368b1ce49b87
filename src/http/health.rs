//! `/healthz` (the process answers) and `/readyz` (database reachable, signing keys loaded).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::http::AppState;

/// How long `/readyz` waits for the database.
const PING_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

/// Liveness: answers while the process runs.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: 200 when the database answers and every environment has a signing key,
/// otherwise 503 with the reasons.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let mut problems = Vec::new();
    match tokio::time::timeout(PING_DEADLINE, state.store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            problems.push("database unreachable".to_owned());
        }
        Err(_) => {
            tracing::warn!(
                "readiness: the database did not answer within {} s",
                PING_DEADLINE.as_secs()
            );
            problems.push(format!(
                "database unreachable (no answer within {} s)",
                PING_DEADLINE.as_secs()
            ));
        }
    }
    let freshness = state.changes.freshness();
    if !freshness.trusted() {
        problems.push(format!(
            "change feed not confirmed for {:.1} s (KEYMINT_MAX_STALENESS {} s): caches bypassed, the database answers",
            freshness.staleness().as_secs_f64(),
            freshness.bound().as_secs()
        ));
    }
    if !state.keys.is_complete(&state.config.environment_names()) {
        problems.push("signing keys missing".to_owned());
    }
    if let Some(reason) = state.sync.listener_problem() {
        problems.push(format!("database notifications down: {reason}"));
    }
    // Not a reason to take the instance out of service (every instance sees it), but the
    // one place a load balancer's operator looks.
    let others = state.sync.other_public_urls();
    let warnings: Vec<String> = (!others.is_empty())
        .then(|| {
            format!(
                "instances on this database serve other public URLs ({}) than this one ({}): tokens minted at one are refused at the others; give every instance the same KEYMINT_PUBLIC_URL",
                others.join(", "),
                state.config.public_url
            )
        })
        .into_iter()
        .collect();
    if problems.is_empty() {
        let mut body = serde_json::json!({"status": "ready"});
        if !warnings.is_empty() {
            body["warnings"] = warnings.into();
        }
        (StatusCode::OK, axum::Json(body)).into_response()
    } else {
        let mut body = serde_json::json!({"status": "not ready", "problems": problems});
        if !warnings.is_empty() {
            body["warnings"] = warnings.into();
        }
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    }
}

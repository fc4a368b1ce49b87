//! `POST /hooks/user-events`: user-lifecycle events signed per Standard Webhooks.
//! Answers 2xx only after the effect is committed, so the sender's retries are safe; the
//! same `webhook-id` is applied once.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use std::sync::Arc;

use super::{WebhookSecret, verify};
use crate::domain::{Actor, ChangeSource, UserEvent};
use crate::manage::ManageError;
use crate::manage::Management;
use crate::store::{Dedupe, EventOutcome};

/// Longest `webhook-id` accepted.
const MAX_ID_LEN: usize = 255;

fn refuse(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    crate::web::errors::oauth(status, error, &description.into())
}

/// What the webhook needs.
pub struct WebhookState {
    /// `KEYMINT_WEBHOOK_SECRET`; `None` turns the webhook off (404).
    pub secret: Option<WebhookSecret>,
    /// The use cases (and their clock).
    pub management: Management,
    /// Events applied by this instance (duplicates and stale events not counted).
    pub applied: std::sync::atomic::AtomicU64,
}

/// The webhook handler.
pub async fn user_events(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(secret) = &state.secret else {
        return refuse(
            StatusCode::NOT_FOUND,
            "not_found",
            "the user-events webhook is disabled: set KEYMINT_WEBHOOK_SECRET",
        );
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => return refuse(e.status(), "invalid_request", e.body_text()),
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let (Some(id), Some(timestamp), Some(signatures)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "webhook-id, webhook-timestamp and webhook-signature headers are required",
        );
    };
    if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "webhook-id must be 1 to 255 printable characters",
        );
    }
    let now = state.management.now().unix_timestamp();
    if let Err(e) = verify(secret, id, timestamp, &body, signatures, now) {
        tracing::warn!(webhook_id = %id, error = %e, "user-events webhook refused");
        let status = if matches!(e, super::SignatureError::Mismatch) {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        return refuse(status, "invalid_signature", e.to_string());
    }
    let event = match UserEvent::from_json(&body) {
        Ok(event) => event,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, "invalid_event", e.0),
    };
    let manage = state.management.acting_as(
        Actor::system(ChangeSource::Webhook),
        Some(format!("webhook:{id}")),
    );
    // The verified webhook-timestamp orders this user's events (within 5 minutes of now).
    let sent_at = timestamp
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok());
    match manage
        .apply_user_event(&event, &Dedupe::WebhookId(id.to_owned()), sent_at)
        .await
    {
        Ok(EventOutcome::Applied(result)) => {
            state
                .applied
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(webhook_id = %id, event = event.type_name(), user = %event.user_id(), keys_disabled = result.disabled_keys.len(), "user event applied");
            (StatusCode::OK, axum::Json(json!({"status": "applied"}))).into_response()
        }
        Ok(EventOutcome::Duplicate) => {
            tracing::info!(webhook_id = %id, "user event already applied");
            (StatusCode::OK, axum::Json(json!({"status": "duplicate"}))).into_response()
        }
        Ok(EventOutcome::Stale) => {
            tracing::info!(webhook_id = %id, event = event.type_name(), user = %event.user_id(), "user event older than the last applied for this user; ignored");
            (StatusCode::OK, axum::Json(json!({"status": "stale"}))).into_response()
        }
        Err(ManageError::Unavailable(e)) => {
            tracing::warn!(webhook_id = %id, error = %e, "user event not applied");
            let mut response = refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "retry later",
            );
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
            response
        }
        Err(e) => refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
            e.to_string(),
        ),
    }
}

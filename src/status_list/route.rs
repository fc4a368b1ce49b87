//! `GET /{env}/statuslists/{n}`: the signed list, cacheable for its `ttl`.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use super::{ListError, MEDIA_TYPE, StatusLists};
use crate::web::errors;

/// `GET /{env}/statuslists/{n}` (draft-ietf-oauth-status-list §8.1: the list token in the
/// body, `Content-Type: application/statuslist+jwt`).
pub async fn status_list(
    State(lists): State<Arc<StatusLists>>,
    Path((env, n)): Path<(String, String)>,
) -> Response {
    // Digits only: `+1` and `01` name no list.
    let number = (!n.is_empty()
        && n.len() <= 9
        && n.bytes().all(|b| b.is_ascii_digit())
        && !n.starts_with('0'))
    .then(|| n.parse::<usize>().ok())
    .flatten();
    let Some(number) = number else {
        return not_found();
    };
    match lists.list(&env, number).await {
        Ok(token) => {
            // A shared cache may keep it as long as a reader may (§13.1: ttl).
            let cache = format!("public, max-age={}", lists.ttl().as_secs());
            (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE)),
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_str(&cache)
                            .unwrap_or(HeaderValue::from_static("no-cache")),
                    ),
                ],
                token,
            )
                .into_response()
        }
        Err(ListError::NotFound) => not_found(),
        Err(ListError::Unavailable) => {
            let mut response = errors::oauth(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the status list cannot be confirmed current now; retry shortly",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

fn not_found() -> Response {
    errors::oauth(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such environment or status list",
    )
}

//! The one builder of each error body Keymint answers, so every refusal of a kind looks
//! the same and none is cached:
//! - [`oauth`]: RFC 6749 §5.2 JSON (`error`, `error_description`), used by the OAuth
//!   endpoints, the webhook, discovery and unknown routes;
//! - [`graphql`]: a GraphQL `errors` list with `extensions.code`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `{"error": code, "error_description": description}` with `Cache-Control: no-store`
/// (RFC 6749 §5.1: responses of token-handling endpoints are not to be cached).
pub fn oauth(status: StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": code, "error_description": description});
    no_store((status, axum::Json(body)).into_response())
}

/// `{"errors": [{"message": message, "extensions": {"code": code}}]}`, not cached.
pub fn graphql(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"message": message, "extensions": {"code": code}}]});
    no_store((status, axum::Json(body)).into_response())
}

/// Adds `Cache-Control: no-store`.
pub fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

//! Request ids: every request gets one (the caller's `X-Request-Id` when it is a short
//! token of safe characters, else a fresh `req_...`), echoed in the response, attached to
//! every log line of the request (a `request` span, see `http_guard`) and recorded in
//! audit entries.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

const HEADER: &str = "x-request-id";

/// The id of the current request (a request extension).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A caller-supplied id is kept only if it cannot forge log lines or grow without bound.
fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The id for a request with these headers: the caller's when acceptable, else fresh.
pub fn for_request(headers: &HeaderMap) -> String {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
        .map_or_else(generate, str::to_owned)
}

/// A fresh request id.
pub fn generate() -> String {
    use crate::random::Random;
    format!("req_{}", crate::random::SystemRandom.token(9))
}

/// Echoes the id on the response.
pub fn echo(response: &mut Response, id: &str) {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(HEADER, value);
    }
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_short_safe_ids_are_taken_from_callers() {
        assert!(acceptable("b7c1-42_x.9"));
        assert!(!acceptable(""));
        assert!(!acceptable(&"a".repeat(65)));
        assert!(!acceptable("a b"));
        assert!(!acceptable("a\nlevel=ERROR"));
        assert!(!acceptable("\"quoted\""));
    }
}

//! Request ids: every request gets one (the caller's `X-Request-Id` when it is a short
//! token of safe characters, else a fresh `req_...`), echoed in the response, attached to
//! every log line of the request (a `request` span, see `http_guard`) and recorded in
//! audit entries.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const HEADER: HeaderName = HeaderName::from_static("x-request-id");

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

/// A fresh request id: `req_` and 72 random bits, base64url (one allocation).
pub fn generate() -> String {
    use crate::random::Random;
    let mut bits = [0u8; 9];
    crate::random::SystemRandom.fill(&mut bits);
    let mut id = String::with_capacity(16);
    id.push_str("req_");
    URL_SAFE_NO_PAD.encode_string(bits, &mut id);
    id
}

/// The response header carrying `id` (`None` for an id that is not a header value,
/// which an id from [`for_request`] never is).
pub fn header(id: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(id).ok()
}

/// Echoes the id on the response.
pub fn echo(response: &mut Response, value: HeaderValue) {
    response.headers_mut().insert(HEADER, value);
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

//! Headers on every console response: a strict Content-Security-Policy (everything from
//! this origin, no inline script, no framing), no sniffing, no referrer to other sites
//! (`same-origin`: with `no-referrer` browsers send `Origin: null` on the console's own
//! forms), no caching.
//! And the cross-site check of every state-changing request.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;

/// The Content-Security-Policy of every console page.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Adds the security headers.
pub async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    apply(response.headers_mut());
    response
}

/// Sets the security headers on `headers`.
pub fn apply(headers: &mut HeaderMap) {
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
}

/// True when a state-changing request comes from another site: `Sec-Fetch-Site` (Fetch
/// Metadata, sent by every current browser) is not `same-origin`, or, from a browser
/// without it, `Origin` is not `origin`.
pub fn cross_site(method: &Method, headers: &HeaderMap, origin: &str) -> bool {
    if method == Method::GET || method == Method::HEAD {
        return false;
    }
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if let Some(site) = fetch_site {
        return site != "same-origin" && site != "none";
    }
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| o != origin)
}

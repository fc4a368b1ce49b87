//! What every request goes through, in one middleware (each axum middleware layer costs
//! microseconds, so there is one): its request id and log span, the header size limit
//! (431), a deadline (503 with `Retry-After`, so a stuck dependency never hangs a client)
//! and its latency metric. The body size limit (413) is enforced by the extractors through
//! `DefaultBodyLimit`. Refusals come in the route's error shape: GraphQL errors on
//! `/{env}/graphql`, RFC 6749 JSON elsewhere.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::time::{Duration, Instant};
use tracing::Instrument;

use std::sync::Arc;

use crate::metrics::RequestMetrics;
use crate::web::request_id::{self, RequestId};

pub use crate::web::MAX_BODY_BYTES;
/// Largest total of header names and values (hyper also caps their number at 100).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Longest a request may run before it is answered 503: the contract promises an answer
/// within 5 s, whatever the database does (pool waits and queries are cut here).
pub const REQUEST_DEADLINE: Duration = Duration::from_millis(4500);

/// The middleware.
pub async fn guard(
    State(requests): State<Arc<RequestMetrics>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id::for_request(request.headers());
    let route = request.extensions().get::<MatchedPath>().cloned();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path()
    );
    let echoed = request_id::header(&id);
    request.extensions_mut().insert(RequestId(id));
    let mut response = limits(request, next).instrument(span).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let elapsed = started.elapsed();
    requests.observe(route, elapsed.as_secs_f64());
    let id = echoed
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::debug!(request_id = %id, status = response.status().as_u16(), latency_us = elapsed.as_micros() as u64, "answered");
    if let Some(value) = echoed {
        request_id::echo(&mut response, value);
    }
    response
}

/// The header limit and the deadline.
async fn limits(request: Request, next: Next) -> Response {
    let graphql = request.uri().path().ends_with("/graphql");
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return refusal(
            graphql,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "invalid_request",
            &format!("request headers exceed {MAX_HEADER_BYTES} bytes"),
        );
    }
    match tokio::time::timeout(REQUEST_DEADLINE, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                deadline_s = REQUEST_DEADLINE.as_secs_f64(),
                "request cut at its deadline"
            );
            let mut response = refusal(
                graphql,
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the request took too long (a dependency is slow or down), retry shortly",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

/// The router's bare 405 with an error body in the route's shape. Its headers stay,
/// `Allow` among them (RFC 9110 §15.5.6: a 405 MUST name the methods the route
/// supports); the router adds `Allow` outside the layers, so this runs on the router's
/// answer, in [`super::serve`].
pub fn method_not_allowed(graphql: bool, bare: Response) -> Response {
    let (mut parts, _) = bare.into_parts();
    let methods = parts
        .headers
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or("another method")
        .replace(',', ", ");
    let message = format!("this route answers {methods} only");
    let (error, body) = refusal(
        graphql,
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        &message,
    )
    .into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &error.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

/// An error in the shape of the route: GraphQL's `errors` list, or RFC 6749's JSON.
pub fn refusal(graphql: bool, status: StatusCode, code: &str, message: &str) -> Response {
    if graphql {
        crate::web::errors::graphql(status, &code.to_ascii_uppercase(), message)
    } else {
        crate::web::errors::oauth(status, code, message)
    }
}

/// The answer when a handler panicked (a bug): logged at error, answered 500 in JSON.
pub fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; answering 500");
    refusal(
        false,
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "internal error",
    )
}

//! Console sessions: a random token in an `HttpOnly`, `SameSite=Lax` cookie (`Secure`,
//! and named `__Host-...`, whenever the public URL is not loopback), only its SHA-256 in
//! the store. Every request reads the session and its user from the store, so a sign-out,
//! an expiry or a deactivation at any instance ends it everywhere at once. Every form
//! carries the session's CSRF token, and a cross-site POST is refused outright.

use aws_lc_rs::digest::{SHA256, digest};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use time::Duration;

use super::ConsoleState;
use super::PageError;
use super::pages::error_page;
use crate::domain::{Actor, ChangeSource};
use crate::manage::Management;
use crate::manage::access::Caller;
use crate::random::{Random, SystemRandom};
use crate::store::ConsoleSession;
use crate::web::page_security::cross_site;

/// A session unused this long ends.
pub const IDLE_TIMEOUT: Duration = Duration::minutes(30);
/// A session ends this long after sign-in, used or not.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);

/// A signed-in request.
pub struct Signed {
    /// The session, with its user as it is now.
    pub session: ConsoleSession,
    /// The hash of the session token (sign-out deletes it).
    pub token_hash: String,
    /// The person, with their current permissions.
    pub caller: Caller,
}

impl Signed {
    /// The use cases, acting as this person through the console.
    pub fn management(&self, state: &ConsoleState, request_id: Option<String>) -> Management {
        let actor = Actor {
            source: ChangeSource::Console,
            user: Some(self.caller.user.clone()),
            client_id: None,
            operator: None,
        };
        state.management.acting_as(actor, request_id)
    }
}

/// A new random token (32 bytes from the OS generator, base64url).
pub fn new_link_token() -> String {
    SystemRandom.token(32)
}

/// What the store keeps of a link or session token.
pub fn link_token_hash(token: &str) -> String {
    digest(&SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// True unless the public URL is loopback (then the cookie is `Secure` and `__Host-`).
pub fn secure(state: &ConsoleState) -> bool {
    let rest = state
        .config
        .public_url
        .split_once("://")
        .map_or("", |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    !matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// The session cookie's name (without the `__Host-` prefix [`cookie`] adds off loopback).
const SESSION_COOKIE: &str = "keymint_console";

/// The `Set-Cookie` of the console cookie `name` (`__Host-{name}` and `Secure` off
/// loopback): `HttpOnly`, `SameSite=Lax`, path `/`, gone after `max_age` seconds (`0`
/// removes it).
pub fn cookie(state: &ConsoleState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let (prefix, secure) = if secure(state) {
        ("__Host-", "; Secure")
    } else {
        ("", "")
    };
    let value = format!(
        "{prefix}{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The values the request carries for the console cookie `name` (as [`cookie`] names it).
pub fn cookie_values<'a>(
    state: &ConsoleState,
    headers: &'a HeaderMap,
    name: &str,
) -> impl Iterator<Item = &'a str> {
    let full = if secure(state) {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    };
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(n, _)| *n == full)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` of a new session.
pub fn set_cookie(state: &ConsoleState, token: &str) -> HeaderValue {
    cookie(
        state,
        SESSION_COOKIE,
        token,
        SESSION_LIFETIME.whole_seconds(),
    )
}

/// The `Set-Cookie` that removes it.
pub fn clear_cookie(state: &ConsoleState) -> HeaderValue {
    cookie(state, SESSION_COOKIE, "", 0)
}

fn cookie_token<'a>(state: &ConsoleState, headers: &'a HeaderMap) -> Option<&'a str> {
    cookie_values(state, headers, SESSION_COOKIE)
        .next()
        .filter(|v| !v.is_empty() && v.len() <= 64)
}

/// The session of the request, if any and still valid.
pub async fn signed_in(
    state: &ConsoleState,
    headers: &HeaderMap,
) -> Result<Option<Signed>, PageError> {
    let Some(token) = cookie_token(state, headers) else {
        return Ok(None);
    };
    let token_hash = link_token_hash(token);
    let now = state.management.now();
    let found = state
        .management
        .store()
        .console_session(&token_hash, now, IDLE_TIMEOUT)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "console session lookup failed");
            unavailable(state)
        })?;
    Ok(found.map(|session| Signed {
        caller: Caller::user(session.user.id.clone(), session.user.permissions.clone()),
        session,
        token_hash,
    }))
}

/// The session, or a redirect to the sign-in page.
pub async fn require(state: &ConsoleState, headers: &HeaderMap) -> Result<Signed, PageError> {
    match signed_in(state, headers).await? {
        Some(signed) => Ok(signed),
        None => Err(Redirect::to("/console/sign-in").into_response().into()),
    }
}

/// Refuses a state-changing request that comes from another site or lacks this session's
/// CSRF token (compared in constant time).
pub fn check_form(
    state: &ConsoleState,
    signed: &Signed,
    method: &Method,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<(), PageError> {
    let origin = origin(&state.config.public_url);
    let expected = signed.session.csrf_token.as_bytes();
    let matches = csrf.is_some_and(|given| {
        given.len() == expected.len()
            && aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), expected).is_ok()
    });
    if cross_site(method, headers, &origin) || !matches {
        return Err(error_page(
            state,
            StatusCode::FORBIDDEN,
            "This form could not be accepted",
            "It did not come from this console's own page (or the page was too old). Nothing was changed. Go back, reload the page and try again.",
        )
        .into());
    }
    Ok(())
}

/// `scheme://host[:port]` of a URL.
pub fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!("{scheme}://{host}")
        }
        None => url.to_owned(),
    }
}

/// A new session: its token (for the cookie) and what the store keeps.
pub fn new_session(
    state: &ConsoleState,
    method: &'static str,
) -> (String, crate::store::NewConsoleSession) {
    let token = new_link_token();
    let session = crate::store::NewConsoleSession {
        token_hash: link_token_hash(&token),
        csrf_token: SystemRandom.token(24),
        method,
        expires_at: state.management.now() + SESSION_LIFETIME,
    };
    (token, session)
}

/// The page for a sign-in of a user the directory has deactivated.
pub fn inactive(state: &ConsoleState) -> Response {
    error_page(
        state,
        StatusCode::FORBIDDEN,
        "Your account is inactive",
        "The directory has deactivated this user, so it cannot sign in.",
    )
}

/// 503 page.
/// 429 with `Retry-After`: this address started or failed too many sign-ins.
pub fn too_many(state: &ConsoleState, retry_after: std::time::Duration) -> Response {
    let mut response = super::pages::error_page(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many sign-in attempts from your network",
        &format!(
            "Try again in {} seconds. Nothing was changed.",
            retry_after.as_secs().max(1)
        ),
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
    {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}

pub fn unavailable(state: &ConsoleState) -> Response {
    error_page(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The database could not be reached. Nothing was changed; try again in a moment.",
    )
}

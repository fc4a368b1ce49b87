//! Sign-in with the organisation's identity provider: `GET /console/oidc/start` sends the
//! browser to the provider, `GET /console/callback` finishes. What the callback needs
//! (nonce, PKCE verifier) is in the store under the hash of `state`, so any instance can
//! finish a sign-in another one started, and each `state` is good once. The `state` is
//! also in a cookie of the browser that started, and the callback refuses a `state` that
//! browser did not start: someone else's code cannot be planted in your browser (login
//! CSRF, OpenID Connect Core §3.1.2.1 / RFC 6749 §10.12).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;
use std::sync::Arc;
use time::Duration;

use super::ConsoleState;
use super::oidc::{OidcClient, OidcError};
use super::pages::error_page;
use super::session::{self, link_token_hash, new_link_token, new_session};
use crate::domain::{Actor, ChangeSource, UserId};
use crate::store::{OidcLogin, StoreError, WriteContext};
use crate::web::SourceAddress;

/// How long a person has at the provider before the sign-in must start over.
const LOGIN_TIMEOUT: Duration = Duration::minutes(10);

/// The cookie holding the `state` of the sign-in this browser started.
const STATE_COOKIE: &str = "keymint_oidc";

/// `SameSite=Lax`: the provider's redirect back is a top-level GET, which carries it.
fn state_cookie(state: &ConsoleState, value: &str, max_age: i64) -> HeaderValue {
    session::cookie(state, STATE_COOKIE, value, max_age)
}

fn unavailable(state: &ConsoleState, error: &OidcError) -> Response {
    tracing::warn!(error = %error, "console OpenID Connect sign-in failed");
    error_page(
        state,
        StatusCode::BAD_GATEWAY,
        "The sign-in could not finish",
        &format!("{error}. Nothing was changed; try again from the sign-in page."),
    )
}

/// `GET /console/oidc/start`.
pub async fn start(State(state): State<Arc<ConsoleState>>, source: SourceAddress) -> Response {
    let Some(oidc) = &state.oidc else {
        return super::no_such_page(&state);
    };
    // Each start writes a row before anyone is signed in: a bounded number per address.
    if let Some(retry_after) = state
        .limiter
        .sign_in_started(source.0, state.management.now())
    {
        return session::too_many(&state, retry_after);
    }
    // Each 32 bytes from the OS generator: RFC 7636 §4.1 wants 43+ characters of
    // verifier, §7.1 enough entropy to be unguessable; the same for state and nonce.
    let (state_value, nonce, code_verifier) =
        (new_link_token(), new_link_token(), new_link_token());
    let url = match oidc
        .authorization_url(&state_value, &nonce, &code_verifier)
        .await
    {
        Ok(url) => url,
        Err(e) => return unavailable(&state, &e),
    };
    let now = state.management.now();
    let login = OidcLogin {
        state_hash: link_token_hash(&state_value),
        nonce,
        code_verifier,
        expires_at: now + LOGIN_TIMEOUT,
    };
    if let Err(e) = state
        .management
        .store()
        .begin_console_oidc(&login, now)
        .await
    {
        tracing::warn!(error = %e, "recording a console sign-in failed");
        return session::unavailable(&state);
    }
    let mut response = Redirect::to(&url).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        state_cookie(&state, &state_value, LOGIN_TIMEOUT.whole_seconds()),
    );
    response
}

fn started_here(state: &ConsoleState, headers: &HeaderMap, given: &str) -> bool {
    session::cookie_values(state, headers, STATE_COOKIE).any(|value| {
        value.len() == given.len()
            && aws_lc_rs::constant_time::verify_slices_are_equal(value.as_bytes(), given.as_bytes())
                .is_ok()
    })
}

/// `GET /console/callback?code=...&state=...` (or `?error=...&state=...`).
pub async fn callback(
    State(state): State<Arc<ConsoleState>>,
    source: SourceAddress,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(oidc) = &state.oidc else {
        return super::no_such_page(&state);
    };
    let params: HashMap<String, String> =
        crate::web::form::pairs(query.as_deref().unwrap_or_default())
            .into_iter()
            .collect();
    let given = params.get("state").map(String::as_str).unwrap_or_default();
    if given.is_empty() || !started_here(&state, &headers, given) {
        return error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "This sign-in did not start here",
            "The answer from the identity provider does not belong to a sign-in this browser started. Nothing was changed; start again from the sign-in page.",
        );
    }
    let now = state.management.now();
    let login = match state
        .management
        .store()
        .take_console_oidc(&link_token_hash(given), now)
        .await
    {
        Ok(Some(login)) => login,
        Ok(None) => {
            // A `state` nobody started here (or spent) counts against the address.
            if let Some(retry_after) = state.limiter.address_failed(source.0, now) {
                return session::too_many(&state, retry_after);
            }
            return error_page(
                &state,
                StatusCode::BAD_REQUEST,
                "This sign-in was used already or has expired",
                "Each sign-in works once, within 10 minutes. Nothing was changed; start again from the sign-in page.",
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "reading a console sign-in failed");
            return session::unavailable(&state);
        }
    };
    // The sign-in is spent: whatever comes of it, its cookie goes. (A refusal before this
    // point leaves it, so a forged callback cannot cancel a sign-in in progress.)
    let mut response = complete(&state, oidc, &params, &login).await;
    response
        .headers_mut()
        .append(header::SET_COOKIE, state_cookie(&state, "", 0));
    response
}

/// The rest of the callback, once its sign-in is taken.
async fn complete(
    state: &ConsoleState,
    oidc: &OidcClient,
    params: &HashMap<String, String>,
    login: &OidcLogin,
) -> Response {
    // RFC 9207 §2.4: an `iss` in the answer must be the provider we sent the person to.
    if params.get("iss").is_some_and(|iss| iss != oidc.issuer()) {
        return error_page(
            state,
            StatusCode::BAD_REQUEST,
            "The answer came from another identity provider",
            "Nothing was changed; start again from the sign-in page.",
        );
    }
    if let Some(error) = params.get("error") {
        let error: String = error.chars().take(64).collect();
        return error_page(
            state,
            StatusCode::FORBIDDEN,
            "The identity provider did not sign you in",
            &format!("It answered {error}. Nothing was changed."),
        );
    }
    let Some(code) = params.get("code").filter(|c| !c.is_empty()) else {
        return error_page(
            state,
            StatusCode::BAD_REQUEST,
            "The identity provider sent no code",
            "Nothing was changed; start again from the sign-in page.",
        );
    };
    let sub = match oidc.sign_in(code, &login.code_verifier, &login.nonce).await {
        Ok(sub) => sub,
        Err(e @ (OidcError::Refused(_) | OidcError::InvalidToken(_))) => {
            tracing::warn!(error = %e, "console OpenID Connect sign-in refused");
            return error_page(
                state,
                StatusCode::FORBIDDEN,
                "The sign-in was refused",
                &format!("{e}. Nothing was changed; start again from the sign-in page."),
            );
        }
        Err(e) => return unavailable(state, &e),
    };
    finish(state, &sub).await
}

/// Starts a session for the Keymint user `sub`, who must exist and be active.
async fn finish(state: &ConsoleState, sub: &str) -> Response {
    let no_user = || {
        error_page(
            state,
            StatusCode::FORBIDDEN,
            "You have no Keymint account",
            "The identity provider signed you in, but no Keymint user has your id. Ask an operator to add you (or your directory to provision you).",
        )
    };
    let Some(user) = UserId::parse(sub) else {
        return no_user();
    };
    let (cookie_token, new) = new_session(state, "oidc");
    let ctx = WriteContext {
        now: state.management.now(),
        actor: Actor::system(ChangeSource::Console),
        request_id: None,
    };
    match state
        .management
        .store()
        .create_console_session(&user, &new, &ctx)
        .await
    {
        Ok(user) => {
            tracing::info!(user = %user.id, "console sign-in by OpenID Connect");
            let mut response = Redirect::to("/console/").into_response();
            response.headers_mut().append(
                header::SET_COOKIE,
                session::set_cookie(state, &cookie_token),
            );
            response
        }
        Err(StoreError::NotFound) => no_user(),
        Err(StoreError::OwnerInactive) => session::inactive(state),
        Err(e) => {
            tracing::warn!(error = %e, "console sign-in failed");
            session::unavailable(state)
        }
    }
}

//! Signing in and out: the sign-in page, one-time links (a `GET` shows a button, the
//! `POST` uses the link, so a link previewer that fetches the URL cannot spend it), and
//! sign-out.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

use super::ConsoleState;
use super::pages::{error_page, page};
use super::session::{self, check_form, link_token_hash, new_session, require, signed_in};
use crate::domain::{Actor, ChangeSource};
use crate::store::{StoreError, WriteContext};
use crate::web::SourceAddress;

/// `GET /console/`: the first environment's keys, or the sign-in page.
pub async fn home(State(state): State<Arc<ConsoleState>>, headers: HeaderMap) -> Response {
    match signed_in(&state, &headers).await {
        Ok(Some(_)) => {
            let first = state
                .config
                .environments
                .first()
                .map(|e| e.name.to_string())
                .unwrap_or_default();
            Redirect::to(&format!("/console/{first}/keys")).into_response()
        }
        Ok(None) => Redirect::to("/console/sign-in").into_response(),
        Err(page) => page.into_response(),
    }
}

/// `GET /console/sign-in`.
pub async fn sign_in_page(State(state): State<Arc<ConsoleState>>) -> Response {
    page(
        &state,
        StatusCode::OK,
        "sign_in.html",
        json!({"oidc": state.oidc.is_some()}),
    )
}

fn link_token(token: &str) -> Option<&str> {
    (token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(token)
}

/// `GET /console/link/{token}`: a button that uses the link.
pub async fn link_page(
    State(state): State<Arc<ConsoleState>>,
    Path(token): Path<String>,
) -> Response {
    let Some(token) = link_token(&token) else {
        return spent(&state);
    };
    page(&state, StatusCode::OK, "link.html", json!({"token": token}))
}

fn spent(state: &ConsoleState) -> Response {
    error_page(
        state,
        StatusCode::NOT_FOUND,
        "This sign-in link does not work",
        "It was used already, has expired, or was never issued. Ask an operator for a new one (keymint console link --user ID).",
    )
}

/// `POST /console/link/{token}`: uses the link, starts a session, goes to the console.
pub async fn redeem_link(
    State(state): State<Arc<ConsoleState>>,
    source: SourceAddress,
    method: Method,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    if crate::web::page_security::cross_site(
        &method,
        &headers,
        &session::origin(&state.config.public_url),
    ) {
        return error_page(
            &state,
            StatusCode::FORBIDDEN,
            "This form could not be accepted",
            "It did not come from this console's own page. Nothing was changed.",
        );
    }
    let Some(token) = link_token(&token) else {
        return spent(&state);
    };
    let (cookie_token, new) = new_session(&state, "link");
    let ctx = WriteContext {
        now: state.management.now(),
        actor: Actor::system(ChangeSource::Console),
        request_id: None,
    };
    match state
        .management
        .store()
        .redeem_console_link(&link_token_hash(token), &new, &ctx)
        .await
    {
        Ok(user) => {
            tracing::info!(user = %user.id, "console sign-in by link");
            let mut response = Redirect::to("/console/").into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                session::set_cookie(&state, &cookie_token),
            );
            response
        }
        Err(StoreError::NotFound) => {
            // A guess (or a spent link) counts against the address, like a wrong secret.
            match state.limiter.address_failed(source.0, ctx.now) {
                Some(retry_after) => session::too_many(&state, retry_after),
                None => spent(&state),
            }
        }
        Err(StoreError::OwnerInactive) => session::inactive(&state),
        Err(e) => {
            tracing::warn!(error = %e, "console link failed");
            session::unavailable(&state)
        }
    }
}

/// `POST /console/sign-out`.
pub async fn sign_out(
    State(state): State<Arc<ConsoleState>>,
    method: Method,
    headers: HeaderMap,
    form: Result<axum::Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let signed = match require(&state, &headers).await {
        Ok(signed) => signed,
        Err(page) => return page.into_response(),
    };
    let csrf = form
        .as_ref()
        .ok()
        .and_then(|f| f.get("csrf"))
        .map(String::as_str);
    if let Err(response) = check_form(&state, &signed, &method, &headers, csrf) {
        return response.into_response();
    }
    let ctx = WriteContext {
        now: state.management.now(),
        actor: Actor {
            source: ChangeSource::Console,
            user: Some(signed.caller.user.clone()),
            client_id: None,
            operator: None,
        },
        request_id: None,
    };
    if let Err(e) = state
        .management
        .store()
        .end_console_session(&signed.token_hash, &ctx)
        .await
    {
        tracing::warn!(error = %e, "console sign-out failed");
        return session::unavailable(&state);
    }
    let mut response = Redirect::to("/console/sign-in").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie(&state));
    response
}

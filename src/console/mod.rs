//! The web console at `/console/`: server-rendered pages where people manage their own API
//! keys and admins every key of an environment, with the same use cases and the same
//! access rules as the GraphQL API ([`crate::manage::access`]). Sign-in is a one-time link
//! (`keymint console link`) or the organisation's identity provider (OpenID Connect);
//! sessions live in the store, so every instance serves every
//! session, and end when the user is deactivated. Every page is embedded in the binary;
//! the core flows work with JavaScript off.
//!
//! `session.rs` signs people in and out and checks every form's CSRF token, `security.rs`
//! sets the headers of every console response, `pages.rs` renders, `keys.rs` and
//! `key_actions.rs` are the key pages and their buttons (`views.rs` what they share),
//! `sign_in.rs` the sign-in pages, `oidc.rs` and `oidc_flow.rs` the identity provider's
//! sign-in, `admin.rs` the admin pages.

// Helpers answer `Result<_, Response>`: the error is the page to show. Boxing it would
// buy nothing on a path that renders HTML.
#![allow(clippy::result_large_err)]

mod admin;
mod key_actions;
mod key_auth_form;
mod keys;
mod oidc;
mod oidc_flow;
mod page_error;
mod pages;
mod session;
mod sign_in;
mod views;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use std::sync::Arc;

use crate::config::Config;
use crate::manage::Management;
use crate::signing::KeyRing;

use page_error::PageError;
pub use session::{IDLE_TIMEOUT, SESSION_LIFETIME, link_token_hash, new_link_token};

/// What the console needs.
pub struct ConsoleState {
    /// Environments, issuers, the public URL.
    pub config: Arc<Config>,
    /// The use cases, acting as the signed-in person (audit source `console`).
    pub management: Management,
    /// The signing keys (the admin page rotates them).
    pub keys: Arc<KeyRing>,
    /// The templates, parsed once.
    pub pages: pages::Pages,
    /// Sign-in with the organisation's identity provider, when configured.
    oidc: Option<oidc::OidcClient>,
    /// Per-address limits of what the sign-in routes write before anyone is signed in.
    pub limiter: Arc<crate::oauth::AuthLimiter>,
}

impl ConsoleState {
    /// The console over `management`.
    pub fn new(
        config: Arc<Config>,
        management: Management,
        keys: Arc<KeyRing>,
        limiter: Arc<crate::oauth::AuthLimiter>,
    ) -> Self {
        let oidc = config
            .console_oidc
            .clone()
            .map(|oidc| oidc::OidcClient::new(oidc, &config.public_url, management.clock()));
        Self {
            oidc,
            config,
            management,
            keys,
            pages: pages::Pages::new(),
            limiter,
        }
    }
}

/// The answer to a path under `/console/` that no console route serves: the console's
/// own 404 page, with the console's headers (the router's fallback calls this).
pub fn no_such_page(state: &ConsoleState) -> axum::response::Response {
    let mut response = pages::error_page(
        state,
        axum::http::StatusCode::NOT_FOUND,
        "No such page",
        "There is nothing at this address in the console.",
    );
    crate::web::page_security::apply(response.headers_mut());
    response
}

/// The console's routes, every response behind [`crate::web::page_security::headers`].
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<ConsoleState>: FromRef<S>,
    crate::web::TrustedProxies: FromRef<S>,
{
    Router::new()
        .route("/console", get(sign_in::home))
        .route("/console/", get(sign_in::home))
        .route("/console/sign-in", get(sign_in::sign_in_page))
        .route(
            "/console/link/{token}",
            get(sign_in::link_page).post(sign_in::redeem_link),
        )
        .route("/console/sign-out", post(sign_in::sign_out))
        .route("/console/oidc/start", get(oidc_flow::start))
        .route("/console/callback", get(oidc_flow::callback))
        .route("/console/assets/console.css", get(pages::stylesheet))
        .route("/console/assets/console.js", get(pages::script))
        .route(
            "/console/assets/explorer/{file}",
            get(crate::graphql::explorer::asset),
        )
        .route("/console/{env}/keys", get(keys::list).post(keys::create))
        .route("/console/{env}/keys/new", get(keys::new_key))
        .route("/console/{env}/keys/{client_id}", get(keys::detail))
        .route(
            "/console/{env}/keys/{client_id}/{action}",
            post(key_actions::act),
        )
        .route(
            "/console/{env}/users",
            get(admin::users).post(admin::create_service_account),
        )
        .route(
            "/console/{env}/users/{id}/keys",
            post(admin::create_service_key),
        )
        .route(
            "/console/{env}/signing-keys",
            get(admin::signing_keys).post(admin::rotate),
        )
        .route("/console/{env}/audit", get(admin::audit))
        .layer(axum::middleware::from_fn(
            crate::web::page_security::headers,
        ))
}

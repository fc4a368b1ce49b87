//! An axum middleware that requires a permission: 401 with `WWW-Authenticate: Bearer`
//! (RFC 6750 §3) for a missing or invalid token, 403 `insufficient_scope` without the
//! permission. The verified claims are put in the request extensions.
//!
//! ```no_run
//! use axum::{Router, middleware, routing::get};
//! use keymint::verifier::Verifier;
//! use keymint::verifier::layer::{RequirePermission, require_permission};
//! use std::sync::Arc;
//!
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Arc::new(Verifier::discover("https://keymint.example/production", None).await?);
//! let required = RequirePermission::new(verifier, "runs:read");
//! let app: Router = Router::new()
//!     .route("/runs", get(|| async { "runs" }))
//!     .layer(middleware::from_fn_with_state(required, require_permission));
//! # Ok(())
//! # }
//! ```

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use super::{Verifier, VerifyError};

/// What a route requires.
#[derive(Clone)]
pub struct RequirePermission {
    verifier: Arc<Verifier>,
    permission: String,
}

impl RequirePermission {
    /// Tokens from `verifier`'s issuer holding `permission`.
    pub fn new(verifier: Arc<Verifier>, permission: &str) -> Self {
        Self {
            verifier,
            permission: permission.to_owned(),
        }
    }
}

/// The middleware function (use with `axum::middleware::from_fn_with_state`).
pub async fn require_permission(
    State(required): State<RequirePermission>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(token) = token else {
        // RFC 6750 §3.1: no error code when the request carried no credentials.
        return challenge(
            StatusCode::UNAUTHORIZED,
            format!("Bearer realm=\"{}\"", required.verifier.issuer()),
        );
    };
    match required.verifier.verify(&token).await {
        Ok(claims) if claims.permissions().contains(&required.permission) => {
            request.extensions_mut().insert(claims);
            next.run(request).await
        }
        Ok(_) => challenge(
            StatusCode::FORBIDDEN,
            format!(
                "Bearer error=\"insufficient_scope\", scope=\"{}\"",
                required.permission
            ),
        ),
        Err(VerifyError::Unavailable(e)) => {
            tracing::warn!(error = %e, "token verification unavailable");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Err(VerifyError::Invalid(reason)) => {
            tracing::debug!(%reason, "bearer token refused");
            challenge(
                StatusCode::UNAUTHORIZED,
                "Bearer error=\"invalid_token\"".to_owned(),
            )
        }
    }
}

fn challenge(status: StatusCode, value: String) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

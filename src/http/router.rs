//! The router: every route of [`routes::table`] behind the shared guard, and the
//! separate `/metrics` router of `KEYMINT_METRICS_LISTEN`.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

use super::tls::ServeListener;
use super::{AppState, guard, routes, server};

/// The router: every route of [`routes::table`], the shared limits and metrics.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    let separate_metrics = state.config.metrics_listen.is_some();
    for route in routes::table() {
        // With KEYMINT_METRICS_LISTEN, anonymous callers of the main port cannot read
        // why requests were refused.
        if separate_metrics && route.path == "/metrics" {
            continue;
        }
        router = router.route(route.path, route.handler);
    }
    router
        .merge(crate::console::router())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(guard::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        // Defence in depth: a bug that panics answers a JSON 500 instead of dropping the
        // connection (tests assert no input reaches this).
        .layer(CatchPanicLayer::custom(guard::panicked))
        .with_state(state)
}

/// The router of the `KEYMINT_METRICS_LISTEN` listener: `/metrics` only.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(super::metrics::metrics))
        .fallback(not_found)
        .with_state(state)
}

/// Serves [`metrics_router`] on `KEYMINT_METRICS_LISTEN`, when set, until `stop`.
pub async fn serve_metrics(
    state: AppState,
    stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let Some(address) = state.config.metrics_listen else {
        return Ok(());
    };
    let listener = TcpListener::bind(address).await?;
    tracing::info!(%address, "metrics listening");
    let limits = server::ConnectionLimits::of(&state.config);
    server::serve_http(
        ServeListener::Plain(listener),
        metrics_router(state),
        limits,
        stop,
    )
    .await
}

async fn not_found(
    axum::extract::State(state): axum::extract::State<AppState>,
    uri: axum::http::Uri,
) -> Response {
    if uri.path().starts_with("/console/") {
        return crate::console::no_such_page(&state.console);
    }
    if uri.path().starts_with("/scim/") {
        // RFC 7644 §3.12: SCIM errors carry a SCIM error body.
        return crate::scim::errors::ScimError::not_found("no such SCIM endpoint").into_response();
    }
    crate::web::errors::oauth(StatusCode::NOT_FOUND, "not_found", "no such route")
}

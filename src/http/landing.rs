//! `GET /`: what a newcomer who opens the base URL needs: the environments with their
//! issuer, token endpoint, discovery document and GraphQL explorer, and where the API is
//! described. JSON for API clients; a small page linking the console and the explorers
//! for a browser (`Accept: text/html`).

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

use crate::config::Config;

/// The landing answer.
pub async fn landing(State(config): State<Arc<Config>>, headers: HeaderMap) -> Response {
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if browser {
        return page(&config);
    }
    document(&config).into_response()
}

/// The page a person sees: the console, and per environment its explorer and issuer.
fn page(config: &Config) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut rows = String::new();
    for e in &config.environments {
        let issuer = escape(&config.issuer(&e.name));
        rows.push_str(&format!(
            "<li><strong>{name}</strong>: <a href=\"{issuer}/graphql\">GraphQL explorer</a> · issuer <code>{issuer}</code></li>\n",
            name = escape(e.name.as_str()),
        ));
    }
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Keymint</title>\n\
         <link rel=\"stylesheet\" href=\"/console/assets/console.css\"></head>\n\
         <body><main><h1>Keymint</h1>\n<p><a href=\"/console/\">Open the console</a> to manage your API keys.</p>\n\
         <ul>\n{rows}</ul>\n<p>API clients get this as JSON; the API is described in <a href=\"/openapi.json\">openapi.json</a>.</p>\n\
         </main></body></html>\n"
    );
    let mut response = Html(body).into_response();
    crate::web::page_security::apply(response.headers_mut());
    response
}

/// The JSON for API clients.
fn document(config: &Config) -> impl IntoResponse {
    let base = &config.public_url;
    let environments: Vec<_> = config
        .environments
        .iter()
        .map(|e| {
            let issuer = config.issuer(&e.name);
            json!({
                "name": e.name.as_str(),
                "issuer": issuer,
                "token_endpoint": format!("{issuer}/oauth2/token"),
                "metadata": format!("{base}/.well-known/oauth-authorization-server/{}", e.name),
                "graphql_explorer": format!("{issuer}/graphql"),
            })
        })
        .collect();
    axum::Json(json!({
        "service": "Keymint",
        "version": env!("CARGO_PKG_VERSION"),
        "environments": environments,
        "openapi": format!("{base}/openapi.json"),
        "health": format!("{base}/readyz"),
    }))
}

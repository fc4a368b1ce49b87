//! `GET /`: what a newcomer who opens the base URL needs: the environments with their
//! issuer, token endpoint, discovery document and GraphQL explorer, and where the API is
//! described.

use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::json;
use std::sync::Arc;

use crate::config::Config;

/// The landing answer.
pub async fn landing(State(config): State<Arc<Config>>) -> impl IntoResponse {
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

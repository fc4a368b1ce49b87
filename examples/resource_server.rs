//! A resource server protected by Keymint tokens, using the library's verifier and layer.
//!
//! `cargo run --example resource_server -- http://127.0.0.1:8080/production 127.0.0.1:9090`
//! then `curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:9090/runs`
//! (needs `runs:read`; `POST /runs` needs `runs:write`).

use axum::routing::get;
use axum::{Extension, Json, Router, middleware};
use std::sync::Arc;

use keymint::verifier::layer::{RequirePermission, require_permission};
use keymint::verifier::{VerifiedToken, Verifier};

async fn list_runs(Extension(token): Extension<VerifiedToken>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"runs": [], "on_behalf_of": token.sub, "via": token.client_id}))
}

async fn start_run(Extension(token): Extension<VerifiedToken>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"started": true, "on_behalf_of": token.sub}))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let issuer = args
        .first()
        .ok_or("usage: resource_server ISSUER_URL [LISTEN]")?;
    let listen = args.get(1).map_or("127.0.0.1:9090", String::as_str);
    let verifier = Arc::new(Verifier::discover(issuer, None).await?);
    let read = RequirePermission::new(Arc::clone(&verifier), "runs:read");
    let write = RequirePermission::new(verifier, "runs:write");
    let app = Router::new()
        .route(
            "/runs",
            get(list_runs).route_layer(middleware::from_fn_with_state(read, require_permission)),
        )
        .route(
            "/runs/start",
            axum::routing::post(start_run)
                .route_layer(middleware::from_fn_with_state(write, require_permission)),
        );
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("resource server on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

//! `keymint serve`.

use anyhow::Context;
use tokio::net::TcpListener;

use crate::app::{AppState, serve};
use crate::config::Config;

/// Builds the state, binds, serves until SIGINT/SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let state = AppState::build(config).await?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let names: Vec<String> = state
        .config
        .environments
        .iter()
        .map(|e| format!("{} ({})", e.name, e.alg))
        .collect();
    tracing::info!(address = %listener.local_addr()?, environments = %names.join(", "), "keymint serving");
    serve(listener, state, shutdown_signal()).await?;
    tracing::info!("keymint stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}

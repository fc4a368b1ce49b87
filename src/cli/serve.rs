//! `keymint serve`.

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::tls::{ServeListener, TlsListener};
use crate::http::{Ready, serve};

/// Builds the state, binds, serves until SIGINT/SIGTERM.
pub async fn run(mut config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    // With KEYMINT_LISTEN on port 0 and no KEYMINT_PUBLIC_URL, the default public URL
    // must name the port actually bound, or issuers would say ":0".
    for scheme in ["http", "https"] {
        if listen.port() == 0 && config.public_url == format!("{scheme}://{listen}") {
            config.set_public_url(format!("{scheme}://{}", listener.local_addr()?));
        }
    }
    let address = listener.local_addr()?;
    let listener = match &config.tls {
        Some(files) => ServeListener::Tls(
            TlsListener::new(listener, &files.cert, &files.key)
                .context("cannot load the TLS certificate")?,
        ),
        None => ServeListener::Plain(listener),
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(%address, scheme, "keymint listening; connecting to the database");
    serve(
        listener,
        Ready::Connect(Box::new(config)),
        shutdown_signal(),
        move |state| {
            let names: Vec<String> = state
                .config
                .environments
                .iter()
                .map(|e| format!("{} ({})", e.name, e.alg))
                .collect();
            tracing::info!(%address, environments = %names.join(", "), "keymint serving");
        },
    )
    .await?;
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

//! The HTTP server loop under [`super::serve`] (and the metrics listener): hyper-util's
//! HTTP/1.1 + HTTP/2 connection builder with a timer, so that
//! - a client has `KEYMINT_HEADER_TIMEOUT` (10 s) to send a request's headers, however
//!   slowly it drips them, and a keep-alive connection idle that long is closed (hyper
//!   starts the same timer while it waits for the next request);
//! - at most `KEYMINT_MAX_CONNECTIONS` connections are served at once; further ones wait
//!   in the kernel's accept queue until a slot frees up (see also the TLS handshake cap in
//!   [`crate::http::tls`]);
//! - on stop, listening ends, in-flight requests get `DRAIN_LIMIT` to finish.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::http::tls::ServeListener;

/// Longest wait for in-flight requests after the stop signal.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Limits on client connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time to send a request's headers, and longest idle time between requests.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// The limits `config` asks for.
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            header_timeout: config.performance.header_timeout,
            max_connections: config.performance.max_connections,
        }
    }
}

/// Serves `service` on `listener` until `stop` turns true, then drains in-flight
/// requests for at most [`DRAIN_LIMIT`] (a request still running then is cut).
pub async fn serve_http<S>(
    mut listener: ServeListener,
    service: S,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()>
where
    S: tower::Service<Request<Body>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_timeout));
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = stop.wait_for(|s| *s) => break,
        };
        let (io, peer) = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let service = service.clone();
        // Each request learns its peer the way axum's `ConnectInfo` extractor expects.
        let hyper_service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let mut request = request.map(Body::new);
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            service.clone().oneshot(request)
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), hyper_service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection closed with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_LIMIT) => {
            tracing::warn!("requests still running {} s after the stop signal were cut", DRAIN_LIMIT.as_secs());
        }
    }
    Ok(())
}

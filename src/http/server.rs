//! The HTTP server loop under [`super::serve`] (and the metrics listener): hyper-util's
//! HTTP/1.1 + HTTP/2 connection builder with a timer, so that
//! - a client has `KEYMINT_HEADER_TIMEOUT` (10 s) to send a request's headers, however
//!   slowly it drips them, and a keep-alive connection idle that long is closed (hyper
//!   starts the same timer while it waits for the next request); an HTTP/2 connection
//!   with no request in flight for that long is closed too (hyper has no idle timer for
//!   HTTP/2, and a client that answers pings would otherwise hold its slot forever);
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
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
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
        let activity = Arc::new(Activity::new());
        let tracked = Arc::clone(&activity);
        // Each request learns its peer the way axum's `ConnectInfo` extractor expects.
        let hyper_service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let mut request = request.map(Body::new);
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            let busy = Busy::start(Arc::clone(&tracked));
            let answered = service.clone().oneshot(request);
            async move {
                let response = answered.await;
                drop(busy);
                response
            }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), hyper_service)
            .into_owned();
        let (mut stop, idle_limit) = (stop.clone(), limits.header_timeout);
        // Drives the connection until it ends; shuts it down gracefully (requests in
        // flight finish, then it closes) on the stop signal or once idle for the limit.
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let mut closing = false;
            let check_every = (idle_limit / 4).max(Duration::from_millis(50));
            let result = loop {
                tokio::select! {
                    result = connection.as_mut() => break result,
                    _ = stop.wait_for(|s| *s), if !closing => {
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    () = tokio::time::sleep(check_every), if !closing => {
                        if activity.idle_for() >= idle_limit {
                            connection.as_mut().graceful_shutdown();
                            closing = true;
                        }
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection closed with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    // Every connection task holds a slot until it ends: all slots back means drained.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_LIMIT, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still running {} s after the stop signal were cut",
            DRAIN_LIMIT.as_secs()
        );
    }
    Ok(())
}

/// Requests in flight on one connection, and when the last one ended.
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `opened` at which a request last ended.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    /// How long the connection has had no request in flight (zero while one is).
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::SeqCst));
        self.opened.elapsed().saturating_sub(last)
    }
}

/// A request in flight, until dropped.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let at = u64::try_from(self.0.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_ms.fetch_max(at, Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

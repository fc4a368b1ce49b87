//! The one serve path, for `keymint serve` and the tests alike. Start-up survives an
//! unreachable database: the listener is bound and answering at once; `/healthz` says the process lives, `/readyz` says why it is not ready yet, every
//! other route answers `503` with `Retry-After`. The database is retried with back-off
//! (1 s doubling to 30 s); when it answers, the full service takes over on the same socket.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tower::ServiceExt;

use super::server::{ConnectionLimits, serve_http};
use super::tls::ServeListener;
use super::{AppState, Runtime, router, serve_metrics};
use crate::config::Config;
use crate::store;

const FIRST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(30);

/// What the not-yet-ready service tells `/readyz`.
#[derive(Clone, Default)]
struct Starting {
    problem: Arc<Mutex<String>>,
}

impl Starting {
    fn set(&self, problem: String) {
        *self.problem.lock().unwrap_or_else(|e| e.into_inner()) = problem;
    }

    fn answer(&self, path: &str) -> Response {
        let problem = self
            .problem
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut response = match path {
            "/healthz" => return "ok\n".into_response(),
            "/readyz" => {
                let body = serde_json::json!({"status": "not ready", "problems": [problem]});
                (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
            }
            _ => crate::http::guard::refusal(
                path.ends_with("/graphql"),
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "Keymint is starting and cannot reach its database yet, retry shortly",
            ),
        };
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Where the served state comes from.
pub enum Ready {
    /// Connect to the configured database (retrying while it is away) and build the state.
    Connect(Box<Config>),
    /// A state built by the caller (tests inject a clock or a store this way).
    Built(AppState),
}

/// Serves on `listener` until `shutdown`, then drains in-flight requests; the background
/// sync task and the metrics listener run alongside and stop with it. With
/// [`Ready::Connect`] the database is connected in the background. `on_ready` runs once
/// with the built state (for the "serving" log line).
pub async fn serve(
    listener: ServeListener,
    ready: Ready,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(&AppState) + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let on_signal = Arc::clone(&stop_tx);
    tokio::spawn(async move {
        shutdown.await;
        let _ = on_signal.send(true);
    });
    let limits = ConnectionLimits::of(match &ready {
        Ready::Connect(config) => config,
        Ready::Built(state) => &state.config,
    });
    let service: Arc<OnceLock<Router>> = Arc::new(OnceLock::new());
    let starting = Starting::default();
    starting.set("connecting to the database".into());
    if let Ready::Built(state) = &ready {
        // Served from the first request on.
        let _ = service.set(router(state.clone()));
    }

    // Until the state is built, every request gets the "starting" answer; then each is
    // handed straight to the full router (no second routing layer on the hot path).
    let outer = {
        let (service, starting) = (Arc::clone(&service), starting.clone());
        tower::service_fn(move |request: Request<Body>| {
            let (routed, starting) = (service.get().cloned(), starting.clone());
            async move {
                Ok::<_, Infallible>(match routed {
                    Some(app) => {
                        let graphql = request.uri().path().ends_with("/graphql");
                        let response = app.oneshot(request).await.unwrap_or_else(|n| match n {});
                        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                            super::guard::method_not_allowed(graphql, response)
                        } else {
                            response
                        }
                    }
                    None => starting.answer(request.uri().path()),
                })
            }
        })
    };

    let builder = {
        let (service, mut stop) = (Arc::clone(&service), stop_rx.clone());
        tokio::spawn(async move {
            let state = match ready {
                Ready::Built(state) => Ok(state),
                Ready::Connect(config) => tokio::select! {
                    state = connect_with_backoff(*config, &starting) => state,
                    _ = stop.wait_for(|s| *s) => return Ok(None),
                },
            };
            let state = match state {
                Ok(state) => state,
                Err(e) => {
                    // Not a database outage: no retry helps. Stop serving and say why.
                    let _ = stop_tx.send(true);
                    return Err(e);
                }
            };
            if service.get().is_none() {
                let _ = service.set(router(state.clone()));
            }
            on_ready(&state);
            let metrics = Arc::clone(&stop_tx);
            let served = serve_metrics(state.clone(), stop.clone());
            tokio::spawn(async move {
                if let Err(e) = served.await {
                    // An unusable metrics address is a configuration error: stop, say why.
                    tracing::error!(error = %e, "cannot serve KEYMINT_METRICS_LISTEN; stopping");
                    let _ = metrics.send(true);
                }
            });
            if let Some(deliverer) = state.deliverer() {
                tokio::spawn(deliverer.run(stop.clone()));
            }
            let sync = tokio::spawn(crate::sync::run(state.sync_task(), stop));
            Ok::<_, anyhow::Error>(Some(sync))
        })
    };

    let served = serve_http(listener, outer, limits, stop_rx);
    let (served, built) = tokio::join!(served, builder);
    served?;
    if let Some(sync) = built?? {
        let _ = sync.await;
    }
    Ok(())
}

/// Retries connecting and migrating until the database answers. Errors that no retry can
/// fix (bad signing-key files, say) end start-up.
async fn connect_with_backoff(config: Config, starting: &Starting) -> anyhow::Result<AppState> {
    let mut delay = FIRST_RETRY;
    loop {
        let attempt = async {
            let store = store::connect(&config.database_url).await?;
            store.migrate().await?;
            Ok::<_, store::StoreError>(store)
        };
        match attempt.await {
            Ok(store) => {
                return AppState::build_on(config, store, Runtime::default()).await;
            }
            Err(store::StoreError::Misconfigured(why)) => {
                anyhow::bail!("{why}; not retrying: fix DATABASE_URL and start again");
            }
            Err(e) => {
                let why = match e {
                    store::StoreError::Backend(why) => why,
                    other => other.to_string(),
                };
                let problem = format!(
                    "database unreachable ({why}); retrying in {} s",
                    delay.as_secs()
                );
                tracing::warn!("{problem}");
                starting.set(problem);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(LONGEST_RETRY);
            }
        }
    }
}

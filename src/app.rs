//! The application: shared state, the router, and the server loop.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

use crate::changes::ChangeFeed;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::events::{self, SyncStatus};
use crate::graphql::{self, KeymintSchema, UserTokenVerifier};
use crate::manage::Management;
use crate::oauth::{AuthLimiter, TokenQuota, VerifiedCache};
use crate::request_metrics::RequestMetrics;
use crate::secrets::SecretHasher;
use crate::signing::{KeyDir, KeyRing, Schedule};
use crate::store::{self, Store};
use crate::tls::ServeListener;
use crate::usage::UsageTracker;
use crate::{http_guard, routes};

/// State shared by all handlers. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// argon2id pool.
    pub hasher: Arc<SecretHasher>,
    /// Signing keys.
    pub keys: Arc<KeyRing>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Key and user changes, from this process and every other instance.
    pub changes: Arc<ChangeFeed>,
    /// Verified secrets and key states of the token fast path.
    pub cache: Arc<VerifiedCache>,
    /// The sync task's state.
    pub sync: Arc<SyncStatus>,
    /// Last-use times waiting to be written.
    pub usage: Arc<UsageTracker>,
    /// Failed-authentication counters (brute-force back-off).
    pub limiter: Arc<AuthLimiter>,
    /// Per-key token quotas.
    pub quota: Arc<TokenQuota>,
    /// Token outcomes and per-route latency.
    pub requests: Arc<RequestMetrics>,
    /// The GraphQL schema (built once).
    pub graphql: KeymintSchema,
    /// Identity-provider session tokens, when configured.
    pub user_tokens: Option<Arc<UserTokenVerifier>>,
}

impl AppState {
    /// Connects the store, runs migrations, loads (or creates) the signing keys and
    /// calibrates the hasher: everything `serve` needs before accepting requests.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Like [`Self::build`] with an injected clock.
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let store = store::connect(&config.database_url).await?;
        store.migrate().await?;
        Self::build_on(config, store, clock).await
    }

    /// Builds the state on a connected, migrated store.
    pub async fn build_on(
        config: Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let envs: Vec<_> = config
            .environments
            .iter()
            .map(|e| (e.name.clone(), e.alg))
            .collect();
        let schedule = Schedule {
            publish_delay: config.signing_publish_delay,
            token_ttl: config.token_ttl,
        };
        let keys =
            KeyRing::load_or_create(KeyDir::new(&config.keys_dir), envs, schedule, clock.now())?;
        let perf = &config.performance;
        let hasher = Arc::new(SecretHasher::new(perf.hash_threads, perf.hash_max_wait));
        let cache = Arc::new(VerifiedCache::new(perf.cache_capacity, perf.cache_ttl));
        let changes = Arc::new(ChangeFeed::default());
        let invalidated = Arc::clone(&cache);
        changes.on_change(move |change| invalidated.invalidate(change));
        hasher.calibrate().await?;
        let user_tokens = match &config.user_tokens {
            Some(u) => Some(Arc::new(UserTokenVerifier::new(
                u.issuer.clone(),
                &u.jwks_url,
                u.audience.clone(),
                Arc::clone(&clock),
            )?)),
            None => None,
        };
        // Follow the change feed from here on: this instance holds no state from before.
        let sync = Arc::new(SyncStatus::new(store.latest_change().await?));
        let quota = Arc::new(TokenQuota::new(config.performance.token_rate_limit));
        let state = Self {
            config: Arc::new(config),
            store,
            hasher,
            keys: Arc::new(keys),
            clock,
            changes,
            cache,
            sync,
            usage: Arc::new(UsageTracker::default()),
            requests: Arc::new(RequestMetrics::default()),
            limiter: Arc::new(AuthLimiter::default()),
            quota,
            graphql: graphql::schema(),
            user_tokens,
        };
        // Events written while this instance was down take effect before it serves.
        events::catch_up(&state).await?;
        Ok(state)
    }

    /// The management use cases over this state's collaborators.
    pub fn management(&self) -> Management {
        Management::new(
            Arc::clone(&self.store),
            Arc::clone(&self.hasher),
            Arc::clone(&self.clock),
            Arc::clone(&self.changes),
        )
    }
}

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
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(http_guard::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http_guard::guard,
        ))
        // Defence in depth: a bug that panics answers a JSON 500 instead of dropping the
        // connection (tests assert no input reaches this).
        .layer(CatchPanicLayer::custom(http_guard::panicked))
        .with_state(state)
}

/// The router of the `KEYMINT_METRICS_LISTEN` listener: `/metrics` only.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(crate::metrics::metrics))
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
    let limits = crate::startup::connection_limits(&state.config);
    crate::serve::serve_http(
        ServeListener::Plain(listener),
        metrics_router(state),
        limits,
        stop,
    )
    .await
}

async fn not_found() -> impl IntoResponse {
    let body = serde_json::json!({"error": "not_found", "error_description": "no such route"});
    (StatusCode::NOT_FOUND, axum::Json(body))
}

/// Serves until `shutdown` completes, then drains in-flight requests. The background
/// sync task (user events, change feed) runs alongside and stops with it.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sync = tokio::spawn(events::run(state.clone(), stop_rx.clone()));
    let metrics = tokio::spawn(serve_metrics(state.clone(), stop_rx.clone()));
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let limits = crate::startup::connection_limits(&state.config);
    let result = crate::serve::serve_http(
        ServeListener::Plain(listener),
        router(state),
        limits,
        stop_rx,
    )
    .await;
    let _ = sync.await;
    match metrics.await {
        Ok(Err(e)) => Err(e),
        _ => result,
    }
}

//! The state every handler reaches: built once at start-up, cheap to clone.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::graphql::{self, KeymintSchema, UserTokenVerifier};
use crate::manage::Management;
use crate::metrics::RequestMetrics;
use crate::oauth::{AuthLimiter, TokenQuota, UsageTracker, VerifiedCache};
use crate::secrets::SecretHasher;
use crate::signing::{KeyDir, KeyRing, RotationPolicy, Schedule};
use crate::store::{self, Store};
use crate::sync::{ChangeFeed, SyncStatus, SyncTask};

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
        crate::sync::catch_up(&state.sync_task()).await?;
        Ok(state)
    }

    /// The background task's collaborators.
    pub fn sync_task(&self) -> SyncTask {
        SyncTask {
            store: Arc::clone(&self.store),
            clock: Arc::clone(&self.clock),
            changes: Arc::clone(&self.changes),
            status: Arc::clone(&self.sync),
            usage: Arc::clone(&self.usage),
            keys: Arc::clone(&self.keys),
            rotation: RotationPolicy {
                every_days: self.config.signing_rotate_days,
                environments: self
                    .config
                    .environments
                    .iter()
                    .map(|e| (e.name.clone(), e.alg))
                    .collect(),
            },
        }
    }

    /// Runs the sync task's signing-key step now: due rotations, then a re-read.
    pub fn refresh_signing_keys(&self) {
        let task = self.sync_task();
        crate::signing::refresh(&task.keys, &task.rotation, self.clock.now());
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

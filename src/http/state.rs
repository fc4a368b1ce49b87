//! The state every handler reaches, built once at start-up. Handlers never take the
//! whole of it: each extracts the part it needs (`State<Arc<OAuthState>>`,
//! `State<Arc<GraphqlState>>`, ...) through the [`FromRef`] impls below, so feature
//! modules know nothing of `AppState` and cloning one part is one reference count.

use axum::extract::FromRef;
use std::sync::Arc;

use super::metrics::MetricsSources;
use super::openapi::ApiDocument;
use crate::changes::ChangeFeed;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::console::ConsoleState;
use crate::domain::{Actor, ChangeSource};
use crate::events::WebhookState;
use crate::graphql::{self, GraphqlState};
use crate::manage::Management;
use crate::metrics::RequestMetrics;
use crate::oauth::{OAuthParts, OAuthState, UsageTracker, VerifiedCache};
use crate::random::{Random, SystemRandom};
use crate::scim::ScimState;
use crate::secrets::SecretHasher;
use crate::signing::{KeyRing, RotationPolicy, Schedule};
use crate::status_list::StatusLists;
use crate::store::{self, Store, WriteContext};
use crate::sync::{SyncStatus, SyncTask};
use crate::verifier::UserTokenVerifier;

/// The application: one reference-counted [`AppParts`], so the router's per-request
/// clone of its state is one atomic increment, not one per part.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// The parts of the application.
pub struct AppParts {
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
    /// Token ids, etags.
    pub random: Arc<dyn Random>,
    /// Key and user changes, from this process and every other instance.
    pub changes: Arc<ChangeFeed>,
    /// Verified secrets and key states of the token fast path.
    pub cache: Arc<VerifiedCache>,
    /// The sync task's state.
    pub sync: Arc<SyncStatus>,
    /// Last-use times waiting to be written.
    pub usage: Arc<UsageTracker>,
    /// Token outcomes and per-route latency.
    pub requests: Arc<RequestMetrics>,
    /// The OAuth endpoints' part.
    pub oauth: Arc<OAuthState>,
    /// The management API's part.
    pub graphql: Arc<GraphqlState>,
    /// The webhook's part.
    pub webhook: Arc<WebhookState>,
    /// What `/metrics` reads.
    pub metrics: Arc<MetricsSources>,
    /// The SCIM endpoints' part.
    pub scim: Arc<ScimState>,
    /// The web console's part.
    pub console: Arc<ConsoleState>,
    /// The OpenAPI document.
    pub openapi: Arc<ApiDocument>,
    /// The token status lists.
    pub status_lists: Arc<StatusLists>,
}

/// The collaborators a state is built with; tests inject a clock or a seeded random.
#[derive(Clone)]
pub struct Runtime {
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Non-secret randomness.
    pub random: Arc<dyn Random>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            random: Arc::new(SystemRandom),
        }
    }
}

impl AppState {
    /// Connects the store, runs migrations, loads (or creates) the signing keys and
    /// calibrates the hasher: everything `serve` needs before accepting requests.
    pub async fn build(config: Config, runtime: Runtime) -> anyhow::Result<Self> {
        let store = store::connect_with(&config.database_url, Arc::clone(&runtime.random)).await?;
        store.migrate().await?;
        Self::build_on(config, store, runtime).await
    }

    /// Builds the state on a connected, migrated store.
    pub async fn build_on(
        config: Config,
        store: Arc<dyn Store>,
        runtime: Runtime,
    ) -> anyhow::Result<Self> {
        let Runtime { clock, random } = runtime;
        let envs: Vec<_> = config
            .environments
            .iter()
            .map(|e| (e.name.clone(), e.alg))
            .collect();
        let schedule = Schedule {
            publish_delay: config.signing_publish_delay,
            token_ttl: config.token_ttl,
        };
        // Follow the change feed from before the keys are read: a rotation committed while
        // this instance starts is then seen, at worst twice.
        let sync = Arc::new(SyncStatus::new(store.latest_change().await?));
        let encryption = crate::signing::encryption_keys(
            config.encryption_keys.as_ref(),
            &config.keys_dir,
            store.as_ref(),
        )
        .await?;
        let keys = Arc::new(KeyRing::new(Arc::clone(&store), encryption, envs, schedule));
        let ctx = WriteContext {
            now: clock.now(),
            actor: Actor::system(ChangeSource::Schedule),
            request_id: None,
        };
        crate::signing::start(&keys, store.as_ref(), &config.keys_dir, &ctx).await?;
        let perf = &config.performance;
        let hasher = Arc::new(SecretHasher::new(perf.hash_threads, perf.hash_max_wait));
        let changes = Arc::new(ChangeFeed::new(config.max_staleness));
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
        let requests = Arc::new(RequestMetrics::default());
        let status_lists = StatusLists::new(
            &config,
            Arc::clone(&store),
            Arc::clone(&keys),
            Arc::clone(&changes),
            Arc::clone(&clock),
        );
        let config = Arc::new(config);
        let management = Management::new(
            Arc::clone(&store),
            Arc::clone(&hasher),
            Arc::clone(&clock),
            Arc::clone(&changes),
        );
        let oauth = OAuthState::build(OAuthParts {
            config: Arc::clone(&config),
            keys: Arc::clone(&keys),
            store: Arc::clone(&store),
            clock: Arc::clone(&clock),
            random: Arc::clone(&random),
            hasher: Arc::clone(&hasher),
            changes: Arc::clone(&changes),
            management: management.acting_as(Actor::system(ChangeSource::OAuth), None),
            requests: Arc::clone(&requests),
        })
        .await?;
        let (cache, limiter) = (oauth.verified_cache().clone(), oauth.limiter().clone());
        let usage = Arc::clone(&oauth.usage);
        let tokens = Arc::clone(&oauth.tokens);
        let graphql = Arc::new(GraphqlState {
            config: Arc::clone(&config),
            schema: graphql::schema(),
            introspection: graphql::introspection_schema(),
            management: management.clone(),
            tokens,
            user_tokens,
        });
        let scim = Arc::new(ScimState {
            token: config.scim_token.clone(),
            management: management.acting_as(Actor::system(ChangeSource::Scim), None),
            base: format!("{}/scim/v2", config.public_url),
        });
        let console = Arc::new(ConsoleState::new(
            Arc::clone(&config),
            management.acting_as(Actor::system(ChangeSource::Console), None),
            Arc::clone(&keys),
            Arc::clone(&limiter),
        ));
        let webhook = Arc::new(WebhookState {
            secret: config.webhook_secret.clone(),
            management,
            applied: Default::default(),
        });
        let metrics = Arc::new(MetricsSources {
            sync: Arc::clone(&sync),
            cache: Arc::clone(&cache),
            token_cache: Arc::clone(&oauth.tokens.cache),
            hasher: Arc::clone(&hasher),
            limiter,
            changes: Arc::clone(&changes),
            quota: Arc::clone(&oauth.quota),
            requests: Arc::clone(&requests),
            store: Arc::clone(&store),
            webhook: Arc::clone(&webhook),
            outside_token_hits: oauth.client_auth.assertions.remembered_outside_tokens(),
            delivery: Arc::default(),
            status_lists: Arc::clone(&status_lists),
        });
        let operations = super::routes::table()
            .into_iter()
            .map(|r| (r.method, r.path, r.operation));
        let openapi = Arc::new(ApiDocument(super::openapi::document(
            &config.public_url,
            operations,
        )));
        let state = Self(Arc::new(AppParts {
            config,
            store,
            hasher,
            keys,
            clock,
            random,
            changes,
            cache,
            sync,
            usage,
            requests,
            oauth,
            graphql,
            webhook,
            metrics,
            scim,
            console,
            openapi,
            status_lists,
        }));
        // Events written while this instance was down take effect before it serves.
        crate::sync::catch_up(&state.sync_task()).await?;
        state.check_public_url().await?;
        Ok(state)
    }

    /// The deliverer of lifecycle events, when `KEYMINT_EVENTS_URL` is set.
    pub fn deliverer(&self) -> Option<Arc<crate::events::delivery::Deliverer>> {
        let events = self.config.events.clone()?;
        Some(Arc::new(crate::events::delivery::Deliverer::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            events.url,
            events.secret,
            Arc::clone(&self.metrics.delivery),
        )))
    }

    /// The management use cases over this state's collaborators (acting as the CLI).
    pub fn management(&self) -> Management {
        self.graphql.management.clone()
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
            revocations: Arc::clone(&self.oauth.tokens.revocations),
            rotation: RotationPolicy {
                every_days: self.config.signing_rotate_days,
            },
            public_url: self.config.public_url.clone(),
            expiry_warning: time::Duration::days(i64::from(self.config.expiry_warning_days)),
        }
    }

    /// Records this instance's public URL now and notes the others (the sync task does it
    /// every 30 s).
    pub async fn check_public_url(&self) -> Result<(), crate::store::StoreError> {
        crate::sync::public_url::check(&self.sync_task()).await
    }

    /// Runs the sync task's signing-key step now: due rotations, then the schedule.
    pub async fn refresh_signing_keys(&self) {
        crate::sync::refresh_signing_keys(&self.sync_task()).await;
    }
}

impl FromRef<AppState> for crate::web::TrustedProxies {
    fn from_ref(state: &AppState) -> Self {
        state.config.trusted_proxies.clone()
    }
}

macro_rules! part {
    ($($field:ident: $part:ty),* $(,)?) => {$(
        impl FromRef<AppState> for $part {
            fn from_ref(state: &AppState) -> Self {
                Arc::clone(&state.$field)
            }
        }
    )*};
}

part!(
    config: Arc<Config>,
    oauth: Arc<OAuthState>,
    graphql: Arc<GraphqlState>,
    webhook: Arc<WebhookState>,
    metrics: Arc<MetricsSources>,
    requests: Arc<RequestMetrics>,
    scim: Arc<ScimState>,
    console: Arc<ConsoleState>,
    openapi: Arc<ApiDocument>,
    status_lists: Arc<StatusLists>,
);

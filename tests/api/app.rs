//! `TestApp`: Keymint served on 127.0.0.1:0 with a fresh database and fresh signing keys.

use std::collections::HashMap;
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::net::TcpListener;

use keymint::clock::{Clock, ManualClock};
use keymint::config::Config;
use keymint::domain::{EnvironmentName, Permissions, UserId, UserUpsert};
use keymint::http::{AppState, Ready, Runtime};
use keymint::manage::CreateKey;

use crate::support::TestDb;

pub use crate::support::Backend;

/// The encryption keys every `TestApp` of this process uses unless told otherwise.
pub fn test_encryption_keys() -> &'static str {
    static KEYS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEYS.get_or_init(keymint::signing::EncryptionKeys::generate_entry)
}

/// The configuration of a test instance: its database, keys folder and URL, the shared
/// test encryption keys, then `vars` (which override any of these).
pub fn test_config(
    url: &str,
    keys_dir: &std::path::Path,
    base: &str,
    vars: &[(&str, &str)],
) -> Config {
    let mut map: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), url.to_owned()),
        // One secret for every instance of this test process, as a cluster shares one.
        (
            "KEYMINT_ENCRYPTION_KEYS".into(),
            test_encryption_keys().to_owned(),
        ),
        ("KEYMINT_KEYS_DIR".into(), keys_dir.display().to_string()),
        ("KEYMINT_PUBLIC_URL".into(), base.to_owned()),
    ]);
    map.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_lookup(|k| map.get(k).cloned().filter(|v| !v.is_empty())).unwrap()
}

/// Builds (without serving) the state an instance on `url` would start with: start-up
/// refusals surface here.
pub async fn build_state(
    url: &str,
    keys_dir: &std::path::Path,
    vars: &[(&str, &str)],
) -> anyhow::Result<AppState> {
    let config = test_config(url, keys_dir, "http://127.0.0.1:1", vars);
    AppState::build(config, Runtime::default()).await
}

/// A running Keymint.
pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub db_url: String,
    _db: Option<TestDb>,
    _keys: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// A key's credentials as its owner received them.
#[derive(Debug, Clone)]
pub struct Key {
    pub client_id: String,
    pub secret: String,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// Serves with extra configuration variables.
    pub async fn spawn_with(backend: Backend, vars: &[(&str, &str)]) -> Self {
        let db = backend.db().await;
        let mut app = Self::spawn_on(&db.url, vars).await;
        app._db = Some(db);
        app
    }

    /// Another instance of the same deployment: same database, same signing keys and the
    /// same public URL (as behind one load balancer), so tokens of one are valid at the other.
    pub async fn spawn_peer(&self) -> Self {
        self.spawn_peer_with(&[]).await
    }

    /// [`Self::spawn_peer`] with extra configuration variables.
    pub async fn spawn_peer_with(&self, vars: &[(&str, &str)]) -> Self {
        self.spawn_peer_via(&self.db_url, vars).await
    }

    /// [`Self::spawn_peer_with`], reaching the same database through `url` (a proxy).
    pub async fn spawn_peer_via(&self, url: &str, vars: &[(&str, &str)]) -> Self {
        let keys = self._keys.path().display().to_string();
        let mut all = vec![
            ("KEYMINT_KEYS_DIR", keys.as_str()),
            ("KEYMINT_PUBLIC_URL", self.base.as_str()),
        ];
        all.extend_from_slice(vars);
        Self::spawn_on(url, &all).await
    }

    /// Another instance on the database of `url` (which outlives this instance).
    pub async fn spawn_on(url: &str, vars: &[(&str, &str)]) -> Self {
        Self::spawn_with_random(url, vars, Arc::new(keymint::random::SystemRandom)).await
    }

    /// Serves on a fresh database of `backend` with token ids and etags drawn from a
    /// repeatable sequence.
    pub async fn spawn_seeded(backend: Backend, seed: u64) -> Self {
        let db = backend.db().await;
        let random = Arc::new(keymint::random::SeededRandom::new(seed));
        let mut app = Self::spawn_with_random(&db.url, &[], random).await;
        app._db = Some(db);
        app
    }

    async fn spawn_with_random(
        url: &str,
        vars: &[(&str, &str)],
        random: Arc<dyn keymint::random::Random>,
    ) -> Self {
        let keys = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = test_config(url, keys.path(), &base, vars);
        // A manual clock set to now: tokens stay valid for real validators, and tests
        // that need time to pass advance it instead of sleeping.
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let runtime = Runtime {
            clock: Arc::clone(&clock) as Arc<dyn Clock>,
            random,
        };
        let state = AppState::build(config, runtime).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let server = tokio::spawn(async move {
            // The path `keymint serve` runs, on a state built with the test's clock.
            let listener = keymint::http::tls::ServeListener::Plain(listener);
            let shutdown = async move {
                let _ = rx.await;
            };
            keymint::http::serve(listener, Ready::Built(served), shutdown, |_| {})
                .await
                .unwrap();
        });
        Self {
            base,
            state,
            http: reqwest::Client::new(),
            clock,
            db_url: url.to_owned(),
            _db: None,
            _keys: keys,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Creates a signing key for `env` through this instance's own ring (as a scheduled
    /// rotation does); returns its kid.
    pub async fn rotate_signing_key(&self, env: &str) -> String {
        let (env, alg) = self.signing_env(env);
        let ctx = keymint::store::WriteContext {
            now: self.clock.now(),
            ..self.state.management().context()
        };
        let created = self
            .state
            .keys
            .create(&env, alg, keymint::store::InsertWhen::Always, &ctx)
            .await
            .unwrap()
            .unwrap();
        created.kid
    }

    /// Creates a signing key for `env` as `keymint signing-keys rotate` does: through the
    /// store, from outside this instance, which learns of it from the change feed.
    pub async fn rotate_signing_key_elsewhere(&self, env: &str) -> String {
        let (env, alg) = self.signing_env(env);
        let ring = keymint::signing::KeyRing::new(
            Arc::clone(&self.state.store),
            self.state.keys.encryption().clone(),
            vec![(env.clone(), alg)],
            *self.state.keys.schedule(),
        );
        let ctx = keymint::store::WriteContext {
            now: self.clock.now(),
            ..self.state.management().context()
        };
        let created = ring
            .create(&env, alg, keymint::store::InsertWhen::Always, &ctx)
            .await
            .unwrap()
            .unwrap();
        created.kid
    }

    fn signing_env(&self, env: &str) -> (EnvironmentName, keymint::signing::SigningAlg) {
        self.state
            .keys
            .environments()
            .iter()
            .find(|(e, _)| e.as_str() == env)
            .cloned()
            .unwrap()
    }

    /// Stops serving (and the background sync) as SIGTERM would; the database stays.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Creates or updates a user with `permissions`.
    pub async fn user(&self, id: &str, permissions: &[&str]) {
        let upsert = UserUpsert {
            id: UserId::parse(id).unwrap(),
            email: Some(format!("{id}@example.com")),
            service_account: false,
            permissions: Permissions::parse(permissions).unwrap(),
        };
        self.state.management().upsert_user(&upsert).await.unwrap();
    }

    /// Creates a key for `owner` in `env` with all of the owner's permissions.
    pub async fn key(&self, owner: &str, env: &str) -> Key {
        self.key_with(owner, env, None, None).await
    }

    pub async fn key_with(
        &self,
        owner: &str,
        env: &str,
        permissions: Option<&[&str]>,
        expires_at: Option<OffsetDateTime>,
    ) -> Key {
        let created = self
            .state
            .management()
            .create_key(CreateKey {
                owner_id: UserId::parse(owner).unwrap(),
                environment: EnvironmentName::parse(env).unwrap(),
                permissions: permissions.map(|p| Permissions::parse(p).unwrap()),
                name: None,
                expires_at,
                auth: keymint::domain::KeyAuth::Secret,
                allowed_ips: keymint::domain::AllowedIps::any(),
            })
            .await
            .unwrap();
        Key {
            client_id: created.key.client_id.to_string(),
            secret: created.secret.unwrap().expose().to_owned(),
        }
    }

    /// Disables `key` as its owner would.
    pub async fn disable(&self, key: &Key) {
        let client_id = keymint::domain::ClientId::new(key.client_id.clone());
        self.state
            .management()
            .set_key_enabled(&client_id, false, None)
            .await
            .unwrap();
    }

    /// POSTs a form to the token endpoint of `env`, authenticating with Basic.
    pub async fn token_basic(
        &self,
        env: &str,
        key: &Key,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/{env}/oauth2/token")))
            .basic_auth(&key.client_id, Some(&key.secret))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Mints a token with `key` and returns the access token.
    pub async fn access_token(&self, env: &str, key: &Key) -> String {
        self.mint(env, key).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Checks `token` as a gateway would: metadata, then the published JWKS, then
    /// signature and claims with an independent JOSE library; returns the claims.
    pub async fn verify(&self, env: &str, token: &str) -> Result<serde_json::Value, String> {
        crate::gateway::verify(self, env, token).await
    }

    /// The published JWKS of `env`.
    pub async fn jwks(&self, env: &str) -> serde_json::Value {
        let url = self.url(&format!("/{env}/.well-known/jwks.json"));
        let response = self.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200, "JWKS of {env}");
        response.json().await.unwrap()
    }

    /// Posts a GraphQL request to `env`; returns the HTTP status and the body.
    pub async fn graphql(
        &self,
        env: &str,
        bearer: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let body = serde_json::json!({"query": query, "variables": variables});
        let mut request = self
            .http
            .post(self.url(&format!("/{env}/graphql")))
            .json(&body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Mints a token with Basic auth and returns the token response body.
    pub async fn mint(&self, env: &str, key: &Key) -> serde_json::Value {
        let response = self
            .token_basic(env, key, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(response.status(), 200, "token request failed");
        response.json().await.unwrap()
    }
}

impl TestApp {
    /// Polls `check` every 20 ms until it holds or `within` has passed; returns the time
    /// it took, or `None`.
    pub async fn eventually<F, Fut>(
        within: std::time::Duration,
        mut check: F,
    ) -> Option<std::time::Duration>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = std::time::Instant::now();
        while started.elapsed() <= within {
            if check().await {
                return Some(started.elapsed());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        None
    }

    /// Status of a token request with `key` (Basic auth).
    pub async fn token_status(&self, env: &str, key: &Key) -> u16 {
        self.token_basic(env, key, &[("grant_type", "client_credentials")])
            .await
            .status()
            .as_u16()
    }

    /// Audit entries about `user` with `action`.
    pub async fn audit_count(&self, user: &str, action: &str) -> usize {
        let query = keymint::store::AuditQuery {
            user_id: Some(user.into()),
            limit: 1000,
            ..Default::default()
        };
        let (entries, _) = self.state.store.list_audit(&query).await.unwrap();
        entries.iter().filter(|e| e.action == action).count()
    }

    /// Runs SQL statements on this instance's database, as an operator (or an older
    /// version of Keymint) would; returns the first column of the first row, if any.
    pub async fn sql(&self, statement: &str) -> Option<String> {
        use sqlx::{Connection, Row};
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        if self.db_url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.db_url).await.unwrap();
            let row = sqlx::query(statement)
                .fetch_optional(&mut conn)
                .await
                .unwrap();
            row.and_then(|r| r.try_get::<Option<String>, _>(0).ok().flatten())
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.db_url).await.unwrap();
            let row = sqlx::query(statement)
                .fetch_optional(&mut conn)
                .await
                .unwrap();
            row.and_then(|r| r.try_get::<Option<String>, _>(0).ok().flatten())
        }
    }

    /// PostgreSQL: waits until some session of this database waits for a lock (a write
    /// queued behind a transaction the test holds open); panics after 5 s.
    pub async fn await_lock_waiter(&self, what: &str) {
        let waiting = Self::eventually(std::time::Duration::from_secs(5), || async {
            self.sql(
                "SELECT count(*)::text FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .await
            .as_deref()
                != Some("0")
        })
        .await;
        assert!(waiting.is_some(), "{what}");
    }

    /// The text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }

    /// The value of a metric on `/metrics`.
    pub async fn metric(&self, name: &str) -> f64 {
        self.metrics_text()
            .await
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{name} missing from /metrics"))
            .parse()
            .unwrap()
    }

    /// Waits until this instance has followed the change feed up to its newest row, so
    /// no change made so far can still arrive (and invalidate caches) later.
    pub async fn settle(&self) {
        let latest = self.state.store.latest_change().await.unwrap();
        let settled = Self::eventually(std::time::Duration::from_secs(5), || async {
            self.state.sync.last_change() >= latest
        })
        .await;
        assert!(settled.is_some(), "the change feed did not catch up");
    }
}

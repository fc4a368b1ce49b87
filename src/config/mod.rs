//! Configuration: one [`Config`], read from defaults overridden by environment variables
//! (names fixed by the contract). Invalid values refuse start-up with a clear message.
//! `vars.rs` reads the variables, `environments.rs` the environments and their signing
//! algorithms, `database_url.rs` holds `DATABASE_URL` (whose `Debug` hides the password).

mod database_url;
mod environments;
mod events;
pub mod table;
#[cfg(test)]
mod tests;
mod vars;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::domain::EnvironmentName;
use crate::events::WebhookSecret;

pub use database_url::DatabaseUrl;
pub use environments::{EnvironmentConfig, status_list_uri};
pub use events::EventsConfig;

/// Longest access-token lifetime the contract allows.
pub const MAX_TOKEN_TTL_SECS: u64 = 3600;

/// A configuration value Keymint cannot run with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable's value is malformed.
    #[error("{name}: {message}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn invalid(name: &'static str, message: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        name,
        message: message.to_string(),
    }
}

/// Everything Keymint reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: `sqlite://...` or `postgres://...`.
    pub database_url: DatabaseUrl,
    /// `KEYMINT_LISTEN`.
    pub listen: SocketAddr,
    /// `KEYMINT_METRICS_LISTEN`: a separate listener for `/metrics`, which then leaves
    /// the main one (default: `/metrics` stays on the main listener).
    pub metrics_listen: Option<SocketAddr>,
    /// `KEYMINT_PUBLIC_URL`, without trailing slash.
    pub public_url: String,
    /// `KEYMINT_ENVIRONMENTS` with `KEYMINT_SIGNING_ALG` applied.
    pub environments: Vec<EnvironmentConfig>,
    /// `KEYMINT_KEYS_DIR`.
    pub keys_dir: PathBuf,
    /// `KEYMINT_TOKEN_TTL`.
    pub token_ttl: Duration,
    /// `KEYMINT_AUDIENCE`; `None` means "the issuer of the environment".
    pub audience: Option<Vec<String>>,
    /// `KEYMINT_WEBHOOK_SECRET`; the user-events webhook is off without it.
    pub webhook_secret: Option<WebhookSecret>,
    /// `KEYMINT_SCIM_TOKEN`: the bearer token of `/scim/v2`; SCIM is off without it.
    pub scim_token: Option<crate::scim::ScimToken>,
    /// `KEYMINT_ENCRYPTION_KEYS`: the keys signing keys are sealed under; unset, a
    /// generated file in the keys directory (`Debug` shows the ids only).
    pub encryption_keys: Option<crate::signing::EncryptionKeys>,
    /// `KEYMINT_SIGNING_KEY_PUBLISH_DELAY`: seconds a new signing key is published before it
    /// signs; also the JWKS cache lifetime advertised (default 300).
    pub signing_publish_delay: Duration,
    /// `KEYMINT_SIGNING_KEY_ROTATE_DAYS`: rotate signing keys automatically this often.
    pub signing_rotate_days: Option<u64>,
    /// `KEYMINT_MAX_STALENESS`: past this long without confirming the change feed, memory
    /// stops deciding requests and the database answers (default 10 s).
    pub max_staleness: Duration,
    /// `KEYMINT_STATUS_LIST_TTL`: the `ttl` of status lists, seconds a reader may cache
    /// one (1 to 60, default 60).
    pub status_list_ttl: Duration,
    /// Token fast path and argon2 admission (`KEYMINT_CACHE_*`, `KEYMINT_HASH_*`).
    pub performance: PerformanceConfig,
    /// `KEYMINT_USER_TOKEN_ISSUER` + `KEYMINT_USER_TOKEN_JWKS_URL` +
    /// `KEYMINT_USER_TOKEN_AUDIENCE`: identity-provider session tokens for GraphQL.
    pub user_tokens: Option<UserTokenConfig>,
    /// `KEYMINT_CONSOLE_OIDC_*`: the console's OpenID Connect sign-in (off without a
    /// client id).
    pub console_oidc: Option<ConsoleOidcConfig>,
    /// `KEYMINT_TLS_CERT` + `KEYMINT_TLS_KEY`: PEM certificate chain and private key;
    /// Keymint serves HTTPS when set (and re-reads them when they change).
    pub tls: Option<TlsFiles>,
    /// `KEYMINT_BEHIND_TLS_PROXY`: a TLS-terminating proxy is in front, so plain http off
    /// loopback is allowed.
    pub behind_tls_proxy: bool,
    /// `KEYMINT_TRUSTED_PROXIES`: CIDRs whose `X-Forwarded-For` is believed (default
    /// loopback).
    pub trusted_proxies: crate::web::TrustedProxies,
    /// `KEYMINT_OUTBOUND_HOSTS`: the hosts a key's JWKS URL may name (unset: any).
    pub outbound_hosts: crate::web::OutboundHosts,
    /// `KEYMINT_EVENTS_URL` + `KEYMINT_EVENTS_SECRET`: this instance delivers lifecycle
    /// events (every instance writes them to the outbox either way).
    pub events: Option<EventsConfig>,
    /// `KEYMINT_KEY_EXPIRY_WARNING_DAYS`: `key.expiring` this many days before an expiry.
    pub expiry_warning_days: u32,
}

/// Where the TLS certificate and key live.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Sizes of the token fast path (Keymint's own settings, beyond the contract).
#[derive(Debug, Clone)]
pub struct PerformanceConfig {
    /// `KEYMINT_CACHE_CAPACITY`: verified-secret cache entries (default 100000).
    pub cache_capacity: usize,
    /// `KEYMINT_CACHE_TTL`: seconds an entry is trusted without re-verification (default 900).
    pub cache_ttl: Duration,
    /// `KEYMINT_HASH_THREADS`: argon2 threads (default: one per core).
    pub hash_threads: usize,
    /// `KEYMINT_HASH_MAX_WAIT_MS`: longest queueing before answering 503 (default 250).
    pub hash_max_wait: Duration,
    /// `KEYMINT_TOKEN_RATE_LIMIT`: tokens per minute one key may mint on one instance
    /// (default: no limit). For clients that forget to cache their tokens.
    pub token_rate_limit: Option<u32>,
    /// `KEYMINT_HEADER_TIMEOUT`: seconds a connection may take to send a request's
    /// headers, and may sit idle between requests (default 10).
    pub header_timeout: Duration,
    /// `KEYMINT_MAX_CONNECTIONS`: open client connections served at once; more wait in
    /// the kernel's accept queue (default 10000).
    pub max_connections: usize,
}

/// Where identity-provider session tokens come from.
#[derive(Debug, Clone)]
pub struct UserTokenConfig {
    /// Expected `iss`.
    pub issuer: String,
    /// The IdP's JWKS.
    pub jwks_url: String,
    /// Expected `aud` (required).
    pub audience: String,
}

/// The console's OpenID Connect client (`Debug` hides the secret).
#[derive(Clone)]
pub struct ConsoleOidcConfig {
    /// `KEYMINT_CONSOLE_OIDC_ISSUER` (default `KEYMINT_USER_TOKEN_ISSUER`), without a
    /// trailing slash.
    pub issuer: String,
    /// `KEYMINT_CONSOLE_OIDC_CLIENT_ID`.
    pub client_id: String,
    /// `KEYMINT_CONSOLE_OIDC_CLIENT_SECRET`; without it Keymint is a public client (PKCE
    /// alone).
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for ConsoleOidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleOidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::from_lookup(|_| None).expect("defaults are valid")
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Changes the public URL (`serve` learns the port of `KEYMINT_LISTEN=...:0` only once
    /// bound), and with it every environment's issuer and audiences.
    pub fn set_public_url(&mut self, url: String) {
        self.public_url = url;
        self.derive_targets();
    }

    /// Fills in each environment's issuer and audiences from the public URL: computed once
    /// rather than on every token request.
    pub(crate) fn derive_targets(&mut self) {
        for i in 0..self.environments.len() {
            let name = self.environments[i].name.clone();
            self.environments[i].issuer = self.issuer(&name);
            self.environments[i].audiences = self.audiences(&name);
            self.environments[i].first_status_list =
                environments::status_list_uri(&self.environments[i].issuer, 1);
        }
    }

    /// Issuer URL of `env` (`{public_url}/{env}`).
    pub fn issuer(&self, env: &EnvironmentName) -> String {
        format!("{}/{}", self.public_url, env)
    }

    /// Audiences a token of `env` may carry; the first is the default.
    pub fn audiences(&self, env: &EnvironmentName) -> Vec<String> {
        let issuer = self.issuer(env);
        let mut audiences = self.audience.clone().unwrap_or_default();
        // The issuer is always a valid audience: it is the management API's, so a client
        // can ask for a token to manage keys whatever resource servers are configured.
        if !audiences.contains(&issuer) {
            audiences.push(issuer);
        }
        audiences
    }

    /// The served environment named `name`.
    pub fn environment(&self, name: &str) -> Option<&EnvironmentConfig> {
        self.environments.iter().find(|e| e.name.as_str() == name)
    }

    /// Names of the served environments.
    pub fn environment_names(&self) -> Vec<EnvironmentName> {
        self.environments.iter().map(|e| e.name.clone()).collect()
    }
}

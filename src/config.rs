//! Configuration: one [`Config`], read from defaults overridden by environment variables
//! (names fixed by the contract). Invalid values refuse start-up with a clear message.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::domain::{EnvironmentName, InvalidEnvironmentName};
use crate::events::WebhookSecret;
use crate::signing::{SigningAlg, UnknownAlgorithm};

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

/// `DATABASE_URL`. Reads as the URL (`&str`); `Debug` hides its password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl std::ops::Deref for DatabaseUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<&str> for DatabaseUrl {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // scheme://user:password@host/... -> scheme://user:***@host/...
        let shown = match self.0.split_once("://") {
            Some((scheme, rest)) => match rest.split_once('@') {
                Some((userinfo, host)) if userinfo.contains(':') => {
                    let user = userinfo.split(':').next().unwrap_or_default();
                    format!("{scheme}://{user}:***@{host}")
                }
                _ => self.0.clone(),
            },
            None => self.0.clone(),
        };
        f.debug_tuple("DatabaseUrl").field(&shown).finish()
    }
}

/// One served environment.
#[derive(Debug, Clone)]
pub struct EnvironmentConfig {
    /// Its name.
    pub name: EnvironmentName,
    /// The algorithm its new signing keys use.
    pub alg: SigningAlg,
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
    /// `KEYMINT_SIGNING_KEY_PUBLISH_DELAY`: seconds a new signing key is published before it
    /// signs; also the JWKS cache lifetime advertised (default 300).
    pub signing_publish_delay: Duration,
    /// `KEYMINT_SIGNING_KEY_ROTATE_DAYS`: rotate signing keys automatically this often.
    pub signing_rotate_days: Option<u64>,
    /// Token fast path and argon2 admission (`KEYMINT_CACHE_*`, `KEYMINT_HASH_*`).
    pub performance: PerformanceConfig,
    /// `KEYMINT_USER_TOKEN_ISSUER` + `KEYMINT_USER_TOKEN_JWKS_URL` +
    /// `KEYMINT_USER_TOKEN_AUDIENCE`: identity-provider session tokens for GraphQL.
    pub user_tokens: Option<UserTokenConfig>,
    /// `KEYMINT_TLS_CERT` + `KEYMINT_TLS_KEY`: PEM certificate chain and private key;
    /// Keymint serves HTTPS when set (and re-reads them when they change).
    pub tls: Option<TlsFiles>,
    /// `KEYMINT_BEHIND_TLS_PROXY`: a TLS-terminating proxy is in front, so plain http off
    /// loopback is allowed.
    pub behind_tls_proxy: bool,
    /// `KEYMINT_TRUSTED_PROXIES`: CIDRs whose `X-Forwarded-For` is believed (default
    /// loopback).
    pub trusted_proxies: crate::oauth::TrustedProxies,
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

    /// Reads variables through `var`; empty values count as unset.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let database_url =
            DatabaseUrl(var("DATABASE_URL").unwrap_or_else(|| "sqlite://keymint.db".to_owned()));
        let listen: SocketAddr = match var("KEYMINT_LISTEN") {
            Some(v) => v.parse().map_err(|_| {
                invalid(
                    "KEYMINT_LISTEN",
                    format!("{v:?} is not an address like 127.0.0.1:8080"),
                )
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let metrics_listen = match var("KEYMINT_METRICS_LISTEN") {
            Some(v) => Some(v.parse().map_err(|_| {
                invalid(
                    "KEYMINT_METRICS_LISTEN",
                    format!("{v:?} is not an address like 127.0.0.1:9090"),
                )
            })?),
            None => None,
        };
        let tls = match (var("KEYMINT_TLS_CERT"), var("KEYMINT_TLS_KEY")) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
            }),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "KEYMINT_TLS_CERT",
                    "set both KEYMINT_TLS_CERT and KEYMINT_TLS_KEY, or neither",
                ));
            }
        };
        let behind_tls_proxy = flag(var, "KEYMINT_BEHIND_TLS_PROXY")?;
        let trusted_proxies = match var("KEYMINT_TRUSTED_PROXIES") {
            Some(list) => crate::oauth::TrustedProxies::parse(&list)
                .map_err(|e| invalid("KEYMINT_TRUSTED_PROXIES", e))?,
            None => crate::oauth::TrustedProxies::default(),
        };
        let public_url = match var("KEYMINT_PUBLIC_URL") {
            Some(v) if v.starts_with("http://") || v.starts_with("https://") => {
                v.trim_end_matches('/').to_owned()
            }
            Some(v) => {
                return Err(invalid(
                    "KEYMINT_PUBLIC_URL",
                    format!("{v:?} must start with http:// or https://"),
                ));
            }
            None if tls.is_some() => format!("https://{listen}"),
            None => format!("http://{listen}"),
        };
        // RFC 6749 §2.3.1 and §3.2: secrets and tokens travel only over TLS. Plain http is
        // for this machine, or for a TLS-terminating proxy the operator vouches for.
        if public_url.starts_with("http://")
            && !behind_tls_proxy
            && !crate::jwks_client::is_loopback_url(&public_url)
        {
            return Err(invalid(
                "KEYMINT_PUBLIC_URL",
                format!(
                    "{public_url} is plain http on a non-loopback host: serve HTTPS \
                     (KEYMINT_TLS_CERT and KEYMINT_TLS_KEY) or put a TLS-terminating proxy in \
                     front and set KEYMINT_BEHIND_TLS_PROXY=1"
                ),
            ));
        }
        let environments = parse_environments(
            var("KEYMINT_ENVIRONMENTS")
                .as_deref()
                .unwrap_or("production,sandbox"),
            var("KEYMINT_SIGNING_ALG").as_deref().unwrap_or("ES256"),
        )?;
        let token_ttl = match var("KEYMINT_TOKEN_TTL") {
            Some(v) => match v.parse::<u64>() {
                Ok(secs @ 1..=MAX_TOKEN_TTL_SECS) => Duration::from_secs(secs),
                _ => {
                    return Err(invalid(
                        "KEYMINT_TOKEN_TTL",
                        format!(
                            "{v:?} must be a whole number of seconds from 1 to {MAX_TOKEN_TTL_SECS}"
                        ),
                    ));
                }
            },
            None => Duration::from_secs(600),
        };
        let audience = var("KEYMINT_AUDIENCE").map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
        if audience.as_ref().is_some_and(Vec::is_empty) {
            return Err(invalid("KEYMINT_AUDIENCE", "names no audience"));
        }
        let webhook_secret = match var("KEYMINT_WEBHOOK_SECRET") {
            Some(v) => Some(WebhookSecret::parse(&v).ok_or_else(|| {
                invalid(
                    "KEYMINT_WEBHOOK_SECRET",
                    "must be whsec_ followed by base64 (Standard Webhooks)",
                )
            })?),
            None => None,
        };
        let user_tokens = match (
            var("KEYMINT_USER_TOKEN_ISSUER"),
            var("KEYMINT_USER_TOKEN_JWKS_URL"),
        ) {
            (Some(issuer), Some(jwks_url)) => {
                // Keys must come over TLS: whoever can alter them can mint sessions.
                crate::jwks_client::JwksClient::new(
                    &jwks_url,
                    std::sync::Arc::new(crate::clock::SystemClock),
                )
                .map_err(|e| invalid("KEYMINT_USER_TOKEN_JWKS_URL", e))?;
                // Without an audience, any token the IdP signs for any application (an ID
                // token of another app) would be a Keymint session.
                let audience = var("KEYMINT_USER_TOKEN_AUDIENCE").ok_or_else(|| {
                    invalid(
                        "KEYMINT_USER_TOKEN_AUDIENCE",
                        "is required with KEYMINT_USER_TOKEN_ISSUER: the audience (usually the \
                         client id) the identity provider puts in tokens meant for Keymint",
                    )
                })?;
                Some(UserTokenConfig {
                    issuer,
                    jwks_url,
                    audience,
                })
            }
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "KEYMINT_USER_TOKEN_ISSUER",
                    "set both KEYMINT_USER_TOKEN_ISSUER and KEYMINT_USER_TOKEN_JWKS_URL, or neither",
                ));
            }
        };
        let number = |name: &'static str, default: u64, range: std::ops::RangeInclusive<u64>| {
            match var(name) {
                None => Ok(default),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if range.contains(&n) => Ok(n),
                    _ => Err(invalid(
                        name,
                        format!(
                            "{v:?} must be a whole number from {} to {}",
                            range.start(),
                            range.end()
                        ),
                    )),
                },
            }
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        let performance = PerformanceConfig {
            cache_capacity: number("KEYMINT_CACHE_CAPACITY", 100_000, 0..=10_000_000)? as usize,
            cache_ttl: Duration::from_secs(number("KEYMINT_CACHE_TTL", 900, 1..=86_400)?),
            hash_threads: number("KEYMINT_HASH_THREADS", cores, 1..=256)? as usize,
            hash_max_wait: Duration::from_millis(number(
                "KEYMINT_HASH_MAX_WAIT_MS",
                250,
                1..=60_000,
            )?),
            token_rate_limit: match var("KEYMINT_TOKEN_RATE_LIMIT") {
                None => None,
                Some(_) => Some(number("KEYMINT_TOKEN_RATE_LIMIT", 0, 1..=1_000_000)? as u32),
            },
            header_timeout: Duration::from_secs(number("KEYMINT_HEADER_TIMEOUT", 10, 1..=600)?),
            max_connections: number("KEYMINT_MAX_CONNECTIONS", 10_000, 1..=1_000_000)? as usize,
        };
        let signing_publish_delay = Duration::from_secs(number(
            "KEYMINT_SIGNING_KEY_PUBLISH_DELAY",
            300,
            0..=86_400,
        )?);
        let signing_rotate_days = match var("KEYMINT_SIGNING_KEY_ROTATE_DAYS") {
            None => None,
            Some(_) => Some(number("KEYMINT_SIGNING_KEY_ROTATE_DAYS", 0, 1..=3650)?),
        };
        Ok(Self {
            database_url,
            metrics_listen,
            listen,
            public_url,
            environments,
            keys_dir: var("KEYMINT_KEYS_DIR").map_or_else(|| PathBuf::from("keys"), PathBuf::from),
            token_ttl,
            audience,
            webhook_secret,
            signing_publish_delay,
            signing_rotate_days,
            performance,
            user_tokens,
            tls,
            behind_tls_proxy,
            trusted_proxies,
        })
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

/// A boolean variable: `1`/`true`/`yes` or `0`/`false`/`no`, unset is false.
fn flag(var: impl Fn(&str) -> Option<String>, name: &'static str) -> Result<bool, ConfigError> {
    match var(name).map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("0" | "false" | "no") => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some(v) => Err(invalid(name, format!("{v:?} must be 1 or 0"))),
    }
}

/// `KEYMINT_ENVIRONMENTS` is a comma-separated list; `KEYMINT_SIGNING_ALG` is either one
/// algorithm for all or `env:ALG` pairs (a bare `ALG` among them sets the default).
fn parse_environments(envs: &str, algs: &str) -> Result<Vec<EnvironmentConfig>, ConfigError> {
    let alg_err = |e: UnknownAlgorithm| invalid("KEYMINT_SIGNING_ALG", e);
    let mut default_alg = SigningAlg::Es256;
    let mut per_env = Vec::new();
    for entry in algs.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match entry.split_once(':') {
            Some((env, alg)) => {
                per_env.push((env.trim().to_owned(), alg.trim().parse().map_err(alg_err)?))
            }
            None => default_alg = entry.parse().map_err(alg_err)?,
        }
    }
    let mut out: Vec<EnvironmentConfig> = Vec::new();
    for name in envs.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let name = EnvironmentName::parse(name)
            .map_err(|e: InvalidEnvironmentName| invalid("KEYMINT_ENVIRONMENTS", e))?;
        if out.iter().any(|e| e.name == name) {
            return Err(invalid(
                "KEYMINT_ENVIRONMENTS",
                format!("{name} is listed twice"),
            ));
        }
        let alg = per_env
            .iter()
            .find(|(e, _)| e == name.as_str())
            .map_or(default_alg, |(_, a)| *a);
        out.push(EnvironmentConfig { name, alg });
    }
    if out.is_empty() {
        return Err(invalid("KEYMINT_ENVIRONMENTS", "names no environment"));
    }
    if let Some((env, _)) = per_env
        .iter()
        .find(|(e, _)| !out.iter().any(|c| c.name.as_str() == e))
    {
        return Err(invalid(
            "KEYMINT_SIGNING_ALG",
            format!("{env} is not in KEYMINT_ENVIRONMENTS"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = load(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://keymint.db");
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.token_ttl, Duration::from_secs(600));
        let names: Vec<_> = c
            .environments
            .iter()
            .map(|e| (e.name.as_str(), e.alg))
            .collect();
        assert_eq!(
            names,
            [
                ("production", SigningAlg::Es256),
                ("sandbox", SigningAlg::Es256)
            ]
        );
        let prod = EnvironmentName::parse("production").unwrap();
        assert_eq!(c.issuer(&prod), "http://127.0.0.1:8080/production");
        assert_eq!(c.audiences(&prod), ["http://127.0.0.1:8080/production"]);
    }

    #[test]
    fn session_tokens_need_an_audience_and_keys_over_tls() {
        let issuer = ("KEYMINT_USER_TOKEN_ISSUER", "https://idp.example");
        let jwks = ("KEYMINT_USER_TOKEN_JWKS_URL", "https://idp.example/jwks");
        let audience = ("KEYMINT_USER_TOKEN_AUDIENCE", "keymint");
        let err = load(&[issuer, jwks]).unwrap_err().to_string();
        assert!(err.contains("KEYMINT_USER_TOKEN_AUDIENCE"), "{err}");
        let plain = ("KEYMINT_USER_TOKEN_JWKS_URL", "http://idp.example/jwks");
        let err = load(&[issuer, plain, audience]).unwrap_err().to_string();
        assert!(err.contains("https"), "{err}");
        let local = ("KEYMINT_USER_TOKEN_JWKS_URL", "http://127.0.0.1:9000/jwks");
        assert!(load(&[issuer, local, audience]).is_ok());
        assert_eq!(
            load(&[issuer, jwks, audience])
                .unwrap()
                .user_tokens
                .unwrap()
                .audience,
            "keymint"
        );
    }

    #[test]
    fn plain_http_is_refused_off_loopback_unless_a_tls_proxy_is_in_front() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://[::1]:9000/",
            "http://user@127.0.0.2:80",
            "https://keymint.example",
        ] {
            assert!(load(&[("KEYMINT_PUBLIC_URL", url)]).is_ok(), "{url}");
        }
        for url in [
            "http://keymint.example",
            "http://10.0.0.5:8080",
            "http://0.0.0.0:8080",
        ] {
            let refused = load(&[("KEYMINT_PUBLIC_URL", url)])
                .unwrap_err()
                .to_string();
            assert!(refused.contains("KEYMINT_BEHIND_TLS_PROXY=1"), "{refused}");
            assert!(
                load(&[
                    ("KEYMINT_PUBLIC_URL", url),
                    ("KEYMINT_BEHIND_TLS_PROXY", "1")
                ])
                .is_ok()
            );
        }
        // Listening on all interfaces without a public URL is refused too.
        assert!(load(&[("KEYMINT_LISTEN", "0.0.0.0:8080")]).is_err());
        // With a certificate the default public URL is https.
        let c = load(&[("KEYMINT_TLS_CERT", "c.pem"), ("KEYMINT_TLS_KEY", "k.pem")]).unwrap();
        assert_eq!(c.public_url, "https://127.0.0.1:8080");
        assert!(load(&[("KEYMINT_TLS_CERT", "c.pem")]).is_err());
    }

    #[test]
    fn per_environment_algorithms() {
        let c = load(&[("KEYMINT_SIGNING_ALG", "production:RS256,sandbox:EdDSA")]).unwrap();
        assert_eq!(c.environment("production").unwrap().alg, SigningAlg::Rs256);
        assert_eq!(c.environment("sandbox").unwrap().alg, SigningAlg::EdDsa);
        assert!(load(&[("KEYMINT_SIGNING_ALG", "staging:RS256")]).is_err());
        assert!(load(&[("KEYMINT_SIGNING_ALG", "HS256")]).is_err());
    }

    #[test]
    fn token_ttl_bounds_are_enforced() {
        for bad in ["0", "3601", "-5", "ten", "1.5"] {
            let err = load(&[("KEYMINT_TOKEN_TTL", bad)]).unwrap_err().to_string();
            assert!(err.starts_with("KEYMINT_TOKEN_TTL"), "{err}");
        }
        assert_eq!(
            load(&[("KEYMINT_TOKEN_TTL", "3600")]).unwrap().token_ttl,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn audiences_and_public_url() {
        let c = load(&[
            ("KEYMINT_AUDIENCE", "https://api.example, https://b.example"),
            ("KEYMINT_PUBLIC_URL", "https://id.example/"),
        ])
        .unwrap();
        let prod = EnvironmentName::parse("production").unwrap();
        // The issuer comes last: the management API's audience, always requestable.
        assert_eq!(
            c.audiences(&prod),
            [
                "https://api.example",
                "https://b.example",
                "https://id.example/production"
            ]
        );
        assert_eq!(c.issuer(&prod), "https://id.example/production");
        assert!(load(&[("KEYMINT_PUBLIC_URL", "id.example")]).is_err());
        assert!(load(&[("KEYMINT_ENVIRONMENTS", "prod,prod")]).is_err());
        assert!(load(&[("KEYMINT_WEBHOOK_SECRET", "plain")]).is_err());
        assert!(
            load(&[("KEYMINT_WEBHOOK_SECRET", "whsec_c2VjcmV0")])
                .unwrap()
                .webhook_secret
                .is_some()
        );
    }
}

//! Reading the configuration variables: defaults, parsing, and the checks that refuse
//! start-up with a message naming the variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::environments::parse_environments;
use super::{
    Config, ConfigError, DatabaseUrl, MAX_TOKEN_TTL_SECS, PerformanceConfig, TlsFiles,
    UserTokenConfig, invalid,
};
use crate::events::WebhookSecret;

impl Config {
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
            && !crate::verifier::jwks::is_loopback_url(&public_url)
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
                crate::verifier::jwks::JwksClient::new(
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
}

/// A boolean variable: `1`/`true`/`yes` or `0`/`false`/`no`, unset is false.
fn flag(var: impl Fn(&str) -> Option<String>, name: &'static str) -> Result<bool, ConfigError> {
    match var(name).map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("0" | "false" | "no") => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some(v) => Err(invalid(name, format!("{v:?} must be 1 or 0"))),
    }
}

//! Reading the configuration variables: defaults, parsing, and the checks that refuse
//! start-up with a message naming the variable. One small function per group of
//! variables; [`Vars`] reads and parses single values.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use super::environments::parse_environments;
use super::{
    Config, ConfigError, ConsoleOidcConfig, DatabaseUrl, MAX_TOKEN_TTL_SECS, PerformanceConfig,
    TlsFiles, UserTokenConfig, invalid,
};
use crate::events::WebhookSecret;
use crate::web::TrustedProxies;

/// The variables, through a lookup; empty values count as unset.
struct Vars<F>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A socket address such as `example`.
    fn address(
        &self,
        name: &'static str,
        example: &str,
    ) -> Result<Option<SocketAddr>, ConfigError> {
        self.get(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| invalid(name, format!("{v:?} is not an address like {example}")))
            })
            .transpose()
    }

    /// A whole number in `range`, `default` when unset.
    fn number(
        &self,
        name: &'static str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        self.optional_number(name, range)
            .map(|n| n.unwrap_or(default))
    }

    /// A whole number in `range`, `None` when unset.
    fn optional_number(
        &self,
        name: &'static str,
        range: RangeInclusive<u64>,
    ) -> Result<Option<u64>, ConfigError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(invalid(
                name,
                format!(
                    "{v:?} must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    /// A boolean: `1`/`true`/`yes` or `0`/`false`/`no`, unset is false.
    fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("0" | "false" | "no") => Ok(false),
            Some("1" | "true" | "yes") => Ok(true),
            Some(v) => Err(invalid(name, format!("{v:?} must be 1 or 0"))),
        }
    }
}

impl Config {
    /// Reads variables through `var`; empty values count as unset.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(var);
        let listen = vars
            .address("KEYMINT_LISTEN", "127.0.0.1:8080")?
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
        let tls = tls_files(&vars)?;
        let behind_tls_proxy = vars.flag("KEYMINT_BEHIND_TLS_PROXY")?;
        let public_url = public_url(&vars, listen, tls.is_some(), behind_tls_proxy)?;
        let environments = parse_environments(
            vars.get("KEYMINT_ENVIRONMENTS")
                .as_deref()
                .unwrap_or("production,sandbox"),
            vars.get("KEYMINT_SIGNING_ALG")
                .as_deref()
                .unwrap_or("ES256"),
        )?;
        let mut config = Self {
            database_url: DatabaseUrl(
                vars.get("DATABASE_URL")
                    .unwrap_or_else(|| "sqlite://keymint.db".to_owned()),
            ),
            metrics_listen: vars.address("KEYMINT_METRICS_LISTEN", "127.0.0.1:9090")?,
            listen,
            public_url,
            environments,
            keys_dir: vars
                .get("KEYMINT_KEYS_DIR")
                .map_or_else(|| PathBuf::from("keys"), PathBuf::from),
            token_ttl: token_ttl(&vars)?,
            audience: audience(&vars)?,
            webhook_secret: webhook_secret(&vars)?,
            scim_token: vars
                .get("KEYMINT_SCIM_TOKEN")
                .map(|v| {
                    crate::scim::ScimToken::parse(&v).ok_or_else(|| {
                        invalid(
                            "KEYMINT_SCIM_TOKEN",
                            format!(
                                "must be at least {} visible characters (e.g. openssl rand -base64 32)",
                                crate::scim::token::MIN_LEN
                            ),
                        )
                    })
                })
                .transpose()?,
            encryption_keys: vars
                .get("KEYMINT_ENCRYPTION_KEYS")
                .map(|v| {
                    crate::signing::EncryptionKeys::parse(&v)
                        .map_err(|e| invalid("KEYMINT_ENCRYPTION_KEYS", e))
                })
                .transpose()?,
            signing_publish_delay: Duration::from_secs(vars.number(
                "KEYMINT_SIGNING_KEY_PUBLISH_DELAY",
                300,
                0..=86_400,
            )?),
            signing_rotate_days: vars
                .optional_number("KEYMINT_SIGNING_KEY_ROTATE_DAYS", 1..=3650)?,
            max_staleness: Duration::from_secs(vars.number(
                "KEYMINT_MAX_STALENESS",
                crate::changes::DEFAULT_MAX_STALENESS.as_secs(),
                1..=3600,
            )?),
            status_list_ttl: Duration::from_secs(vars.number(
                "KEYMINT_STATUS_LIST_TTL",
                60,
                1..=60,
            )?),
            performance: performance(&vars)?,
            user_tokens: user_tokens(&vars)?,
            console_oidc: console_oidc(&vars)?,
            tls,
            behind_tls_proxy,
            trusted_proxies: match vars.get("KEYMINT_TRUSTED_PROXIES") {
                Some(list) => TrustedProxies::parse(&list)
                    .map_err(|e| invalid("KEYMINT_TRUSTED_PROXIES", e))?,
                None => TrustedProxies::default(),
            },
            outbound_hosts: match vars.get("KEYMINT_OUTBOUND_HOSTS") {
                Some(list) => crate::web::OutboundHosts::parse(&list)
                    .map_err(|e| invalid("KEYMINT_OUTBOUND_HOSTS", e))?,
                None => crate::web::OutboundHosts::default(),
            },
            events: super::events::events(&|name| vars.get(name))?,
            expiry_warning_days: super::events::warning_days(&|name| vars.get(name))?,
        };
        config.derive_targets();
        Ok(config)
    }
}

fn tls_files<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<Option<TlsFiles>, ConfigError> {
    match (vars.get("KEYMINT_TLS_CERT"), vars.get("KEYMINT_TLS_KEY")) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert: PathBuf::from(cert),
            key: PathBuf::from(key),
        })),
        (None, None) => Ok(None),
        _ => Err(invalid(
            "KEYMINT_TLS_CERT",
            "set both KEYMINT_TLS_CERT and KEYMINT_TLS_KEY, or neither",
        )),
    }
}

fn public_url<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
    listen: SocketAddr,
    tls: bool,
    behind_tls_proxy: bool,
) -> Result<String, ConfigError> {
    let public_url = match vars.get("KEYMINT_PUBLIC_URL") {
        Some(v) if v.starts_with("http://") || v.starts_with("https://") => {
            v.trim_end_matches('/').to_owned()
        }
        Some(v) => {
            return Err(invalid(
                "KEYMINT_PUBLIC_URL",
                format!("{v:?} must start with http:// or https://"),
            ));
        }
        None if tls => format!("https://{listen}"),
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
    Ok(public_url)
}

fn token_ttl<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Duration, ConfigError> {
    let Some(v) = vars.get("KEYMINT_TOKEN_TTL") else {
        return Ok(Duration::from_secs(600));
    };
    match v.parse::<u64>() {
        Ok(secs @ 1..=MAX_TOKEN_TTL_SECS) => Ok(Duration::from_secs(secs)),
        _ => Err(invalid(
            "KEYMINT_TOKEN_TTL",
            format!("{v:?} must be a whole number of seconds from 1 to {MAX_TOKEN_TTL_SECS}"),
        )),
    }
}

fn audience<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<Option<Vec<String>>, ConfigError> {
    let audience = vars.get("KEYMINT_AUDIENCE").map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    if audience.as_ref().is_some_and(Vec::is_empty) {
        return Err(invalid("KEYMINT_AUDIENCE", "names no audience"));
    }
    Ok(audience)
}

fn webhook_secret<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<Option<WebhookSecret>, ConfigError> {
    vars.get("KEYMINT_WEBHOOK_SECRET")
        .map(|v| {
            WebhookSecret::parse(&v).ok_or_else(|| {
                invalid(
                    "KEYMINT_WEBHOOK_SECRET",
                    "must be whsec_ followed by base64 (Standard Webhooks)",
                )
            })
        })
        .transpose()
}

fn user_tokens<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<Option<UserTokenConfig>, ConfigError> {
    let (issuer, jwks_url) = match (
        vars.get("KEYMINT_USER_TOKEN_ISSUER"),
        vars.get("KEYMINT_USER_TOKEN_JWKS_URL"),
    ) {
        (Some(issuer), Some(jwks_url)) => (issuer, jwks_url),
        (None, None) => return Ok(None),
        _ => {
            return Err(invalid(
                "KEYMINT_USER_TOKEN_ISSUER",
                "set both KEYMINT_USER_TOKEN_ISSUER and KEYMINT_USER_TOKEN_JWKS_URL, or neither",
            ));
        }
    };
    // Keys must come over TLS: whoever can alter them can mint sessions.
    crate::verifier::jwks::JwksClient::new(
        &jwks_url,
        std::sync::Arc::new(crate::clock::SystemClock),
    )
    .map_err(|e| invalid("KEYMINT_USER_TOKEN_JWKS_URL", e))?;
    // Without an audience, any token the IdP signs for any application (an ID token of
    // another app) would be a Keymint session.
    let audience = vars.get("KEYMINT_USER_TOKEN_AUDIENCE").ok_or_else(|| {
        invalid(
            "KEYMINT_USER_TOKEN_AUDIENCE",
            "is required with KEYMINT_USER_TOKEN_ISSUER: the audience (usually the \
             client id) the identity provider puts in tokens meant for Keymint",
        )
    })?;
    Ok(Some(UserTokenConfig {
        issuer,
        jwks_url,
        audience,
    }))
}

fn console_oidc<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<Option<ConsoleOidcConfig>, ConfigError> {
    let Some(client_id) = vars.get("KEYMINT_CONSOLE_OIDC_CLIENT_ID") else {
        if vars.get("KEYMINT_CONSOLE_OIDC_CLIENT_SECRET").is_some() {
            return Err(invalid(
                "KEYMINT_CONSOLE_OIDC_CLIENT_SECRET",
                "needs KEYMINT_CONSOLE_OIDC_CLIENT_ID (the console's client at the identity provider)",
            ));
        }
        return Ok(None);
    };
    let issuer = vars
        .get("KEYMINT_CONSOLE_OIDC_ISSUER")
        .or_else(|| vars.get("KEYMINT_USER_TOKEN_ISSUER"))
        .ok_or_else(|| {
            invalid(
                "KEYMINT_CONSOLE_OIDC_ISSUER",
                "is required with KEYMINT_CONSOLE_OIDC_CLIENT_ID (or set KEYMINT_USER_TOKEN_ISSUER)",
            )
        })?;
    // Whoever can alter the provider's answers can sign anyone in.
    if !(issuer.starts_with("https://")
        || (issuer.starts_with("http://") && crate::verifier::jwks::is_loopback_url(&issuer)))
    {
        return Err(invalid(
            "KEYMINT_CONSOLE_OIDC_ISSUER",
            format!("{issuer} must be an https:// URL (plain http only on loopback)"),
        ));
    }
    Ok(Some(ConsoleOidcConfig {
        issuer: issuer.trim_end_matches('/').to_owned(),
        client_id,
        client_secret: vars.get("KEYMINT_CONSOLE_OIDC_CLIENT_SECRET"),
    }))
}

fn performance<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
) -> Result<PerformanceConfig, ConfigError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    Ok(PerformanceConfig {
        cache_capacity: vars.number("KEYMINT_CACHE_CAPACITY", 100_000, 0..=10_000_000)? as usize,
        cache_ttl: Duration::from_secs(vars.number("KEYMINT_CACHE_TTL", 900, 1..=86_400)?),
        hash_threads: vars.number("KEYMINT_HASH_THREADS", cores, 1..=256)? as usize,
        hash_max_wait: Duration::from_millis(vars.number(
            "KEYMINT_HASH_MAX_WAIT_MS",
            250,
            1..=60_000,
        )?),
        token_rate_limit: vars
            .optional_number("KEYMINT_TOKEN_RATE_LIMIT", 1..=1_000_000)?
            .map(|n| n as u32),
        header_timeout: Duration::from_secs(vars.number("KEYMINT_HEADER_TIMEOUT", 10, 1..=600)?),
        max_connections: vars.number("KEYMINT_MAX_CONNECTIONS", 10_000, 1..=1_000_000)? as usize,
    })
}

//! The one JWKS client, used by the resource-server [`crate::verifier`] and by the
//! identity-provider session tokens of the management API: fetch, cache for the
//! response's `Cache-Control: max-age` (so a withdrawn key stops verifying once that has
//! passed), refetch on an unknown `kid` at most every 10 s (so garbage tokens cannot
//! hammer the issuer), cap the response size, follow no redirect, and refuse plain `http`
//! off loopback. The JWKS URLs of `private_key_jwt` keys are fetched through it too.

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{Mutex, RwLock};

use crate::clock::Clock;

/// Least time between two fetches (also the shortest effective `max-age`).
const MIN_REFETCH: time::Duration = time::Duration::seconds(10);
/// Cache lifetime when the response names none.
const DEFAULT_MAX_AGE: time::Duration = time::Duration::minutes(5);
/// Longest cache lifetime honoured, whatever the response says.
const LONGEST_MAX_AGE: time::Duration = time::Duration::days(1);
/// Largest JWKS accepted. Real ones are a few KiB.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// The keys could not be fetched (the message says why; it names no secret).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct JwksError(pub String);

struct Cached {
    keys: JwkSet,
    /// When the keys must be refetched before use; `None` before the first fetch.
    fresh_until: Option<OffsetDateTime>,
}

/// See the module documentation.
pub struct JwksClient {
    url: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    cached: RwLock<Cached>,
    last_fetch: Mutex<Option<OffsetDateTime>>,
}

impl JwksClient {
    /// A client of the JWKS at `url`, which must be `https` unless it is on loopback.
    pub fn new(url: &str, clock: Arc<dyn Clock>) -> Result<Self, JwksError> {
        let allowed =
            url.starts_with("https://") || (url.starts_with("http://") && is_loopback_url(url));
        if !allowed {
            return Err(JwksError(format!(
                "{url} must be an https:// URL (plain http only on loopback)"
            )));
        }
        let http = outbound_client();
        Ok(Self {
            url: url.to_owned(),
            http,
            clock,
            cached: RwLock::new(Cached {
                keys: JwkSet { keys: Vec::new() },
                fresh_until: None,
            }),
            last_fetch: Mutex::new(None),
        })
    }

    /// The key `kid`, refetching when the cache is past its `max-age` or the kid is
    /// unknown, at most once per 10 s either way. `Ok(None)`: the issuer does not
    /// publish that key.
    pub async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, JwksError> {
        let now = self.clock.now();
        let expired = self
            .cached
            .read()
            .await
            .fresh_until
            .is_none_or(|t| now >= t);
        if expired && let Err(e) = self.fetch_limited().await {
            // Keys fetched before stay usable while the issuer is unreachable.
            tracing::warn!(error = %e, url = %self.url, "refreshing a JWKS failed");
        }
        if self.cached.read().await.fresh_until.is_none() {
            return Err(JwksError(format!(
                "the keys at {} are unavailable",
                self.url
            )));
        }
        if let Some(key) = self.find(kid).await {
            return Ok(Some(key));
        }
        if !expired {
            self.fetch_limited().await?;
        }
        Ok(self.find(kid).await)
    }

    /// Fetches now, for a client set up ahead of its first token; the first unknown
    /// `kid` after it may still refetch at once.
    pub async fn prefetch(&self) -> Result<(), JwksError> {
        self.fetch().await
    }

    /// Fetches now, whatever the cache holds.
    async fn fetch(&self) -> Result<(), JwksError> {
        let response = self
            .http
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| JwksError(format!("fetching {} failed: {e}", self.url)))?;
        let max_age = max_age(response.headers());
        let body = read_capped(response, MAX_JWKS_BYTES, "the JWKS").await?;
        let keys: JwkSet = serde_json::from_slice(&body)
            .map_err(|e| JwksError(format!("{} is not a JWKS: {e}", self.url)))?;
        let now = self.clock.now();
        *self.cached.write().await = Cached {
            keys,
            fresh_until: Some(now + max_age),
        };
        Ok(())
    }

    /// Fetches unless a fetch was tried within the last 10 s.
    /// The lock is held across the fetch: callers arriving meanwhile wait for its result
    /// instead of finding an empty cache (a cold client under load refused all but its
    /// first caller before).
    async fn fetch_limited(&self) -> Result<(), JwksError> {
        let mut last = self.last_fetch.lock().await;
        let now = self.clock.now();
        if last.is_some_and(|at| now - at < MIN_REFETCH) {
            return Ok(());
        }
        *last = Some(now);
        self.fetch().await
    }

    async fn find(&self, kid: &str) -> Option<DecodingKey> {
        let cached = self.cached.read().await;
        cached
            .keys
            .find(kid)
            .and_then(|jwk| DecodingKey::from_jwk(jwk).ok())
    }
}

/// `Cache-Control: max-age` of a response, within bounds; the default when absent.
fn max_age(headers: &reqwest::header::HeaderMap) -> time::Duration {
    let seconds = headers
        .get_all(reqwest::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|directive| {
            let (name, value) = directive.trim().split_once('=')?;
            name.eq_ignore_ascii_case("max-age")
                .then(|| value.trim().parse::<i64>().ok())
                .flatten()
        });
    match seconds {
        Some(s) => time::Duration::seconds(s.max(0)).min(LONGEST_MAX_AGE),
        None => DEFAULT_MAX_AGE,
    }
}

/// The client of every fetch of keys or lists made on a key's or a token's word: no
/// redirects (a URL a key registers must not bounce Keymint to an address its owner
/// could not name directly), short timeouts.
pub(crate) fn outbound_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// The body of `what`, refused past `limit` bytes without reading further.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, JwksError> {
    let too_large = || JwksError(format!("{what} is larger than {limit} bytes"));
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| JwksError(format!("reading {what} failed: {e}")))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub use crate::web::loopback::is_loopback_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_and_bounded() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(max_age(&headers), DEFAULT_MAX_AGE);
        headers.insert("cache-control", "public, max-age=60".parse().unwrap());
        assert_eq!(max_age(&headers), time::Duration::seconds(60));
        headers.insert("cache-control", "max-age=99999999".parse().unwrap());
        assert_eq!(max_age(&headers), LONGEST_MAX_AGE);
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        assert!(JwksClient::new("http://idp.example/jwks", clock.clone()).is_err());
        assert!(JwksClient::new("ftp://127.0.0.1/jwks", clock.clone()).is_err());
        assert!(JwksClient::new("http://127.0.0.1:9/jwks", clock.clone()).is_ok());
        assert!(JwksClient::new("http://[::1]:9/jwks", clock.clone()).is_ok());
        assert!(JwksClient::new("https://idp.example/jwks", clock).is_ok());
    }

    /// Serves `body` at `/jwks` on 127.0.0.1 with `cache-control`; returns the URL.
    async fn serve(body: String) -> String {
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let body = body.clone();
                async move { ([("cache-control", "max-age=60")], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    #[tokio::test]
    async fn oversized_or_malformed_sets_are_refused_and_good_ones_cached() {
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let huge = format!(r#"{{"keys": [], "pad": "{}"}}"#, "x".repeat(MAX_JWKS_BYTES));
        let client = JwksClient::new(&serve(huge).await, clock.clone()).unwrap();
        let err = client.key("any").await.unwrap_err();
        assert!(err.0.contains("unavailable"), "{err}");
        assert!(
            client
                .prefetch()
                .await
                .unwrap_err()
                .0
                .contains("larger than")
        );
        let client = JwksClient::new(&serve("not json".into()).await, clock.clone()).unwrap();
        assert!(
            client
                .prefetch()
                .await
                .unwrap_err()
                .0
                .contains("not a JWKS")
        );
        let client = JwksClient::new(&serve(r#"{"keys": []}"#.into()).await, clock).unwrap();
        assert_eq!(client.key("missing").await.map(|k| k.is_some()), Ok(false));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_arriving_together_at_a_cold_client_all_get_the_keys() {
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let (key, _) =
            crate::signing::SigningKey::generate(crate::signing::SigningAlg::Es256).unwrap();
        let body = serde_json::json!({"keys": [key.public_jwk()]}).to_string();
        let client = Arc::new(JwksClient::new(&serve(body).await, clock).unwrap());
        let kid = key.kid().to_owned();
        let callers: Vec<_> = (0..32)
            .map(|_| {
                let (client, kid) = (Arc::clone(&client), kid.clone());
                tokio::spawn(async move { client.key(&kid).await.map(|k| k.is_some()) })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), Ok(true), "a caller found no keys");
        }
    }
}

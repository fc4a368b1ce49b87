//! The verifier's reader of token status lists (draft-ietf-oauth-status-list §8.3): a
//! token that names `status.status_list` is refused once its bit is 1. Each list is
//! fetched from the issuer, its signature checked through the issuer's JWKS (`typ`
//! `statuslist+jwt`, `sub` its own URI, `iss`, `exp`), decoded, and cached for its `ttl`.
//! When a list cannot be fetched, the copy held keeps deciding for at most the
//! configured bound past its last successful fetch (and never past its `exp`); after
//! that every token naming it is refused: fail closed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flate2::read::ZlibDecoder;
use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::VerifyError;
use super::jwks::{JwksClient, outbound_client, read_capped};
use crate::clock::Clock;

/// How long a list that cannot be refreshed keeps deciding, unless configured.
pub const DEFAULT_STATUS_BOUND: Duration = Duration::from_secs(300);
/// Largest list token fetched.
const MAX_TOKEN_BYTES: usize = 4 * 1024 * 1024;
/// Largest list decompressed (16 million statuses of one bit).
const MAX_LIST_BYTES: u64 = 2 * 1024 * 1024;
/// Caching when a list names no `ttl`.
const DEFAULT_TTL: i64 = 60;
/// Least time between two fetch attempts of one list after a failure.
const RETRY_AFTER_FAILURE: i64 = 1;

/// Where a token's bit is (§6.1).
#[derive(Debug, Clone, Deserialize)]
pub struct StatusReference {
    /// The position in the list.
    pub idx: u64,
    /// The list's URI.
    pub uri: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct StatusClaim {
    pub(super) status_list: StatusReference,
}

struct List {
    bytes: Vec<u8>,
    /// Last successful fetch (unix seconds).
    fetched_at: i64,
    /// Refetch from then on (`fetched_at + ttl`).
    stale_at: i64,
    /// The list's own `exp`.
    exp: i64,
}

#[derive(Default)]
struct Slot {
    list: Option<Arc<List>>,
    last_attempt: Option<i64>,
}

#[derive(Deserialize)]
struct ListClaims {
    sub: String,
    exp: i64,
    #[serde(default)]
    ttl: Option<i64>,
    status_list: Bits,
}

#[derive(Deserialize)]
struct Bits {
    bits: u8,
    lst: String,
}

/// See the module documentation.
pub struct StatusReader {
    issuer: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    bound: Duration,
    /// One slot per list URI; its async lock makes each list's refresh single-flight.
    lists: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl StatusReader {
    /// A reader of the lists under `issuer`, failing closed `bound` after a list's last
    /// successful fetch.
    pub fn new(issuer: &str, clock: Arc<dyn Clock>, bound: Duration) -> Self {
        Self {
            issuer: issuer.to_owned(),
            http: outbound_client(),
            clock,
            bound,
            lists: Mutex::default(),
        }
    }

    /// Refuses the token whose status is `reference` when its bit is 1, or when its list
    /// cannot be confirmed within the bound.
    pub(super) async fn check(
        &self,
        reference: &StatusReference,
        jwks: &JwksClient,
    ) -> Result<(), VerifyError> {
        // Only lists of the trusted issuer: a token cannot send the verifier elsewhere.
        let prefix = format!("{}/statuslists/", self.issuer);
        if !reference.uri.starts_with(&prefix) {
            return Err(VerifyError::Invalid(
                "status list outside the issuer".into(),
            ));
        }
        let list = self.list(&reference.uri, jwks).await?;
        let byte = usize::try_from(reference.idx / 8)
            .ok()
            .and_then(|i| list.bytes.get(i))
            // §8.3: an index out of the list's bounds fails validation.
            .ok_or_else(|| VerifyError::Invalid("status index outside its list".into()))?;
        if byte & (1 << (reference.idx % 8)) != 0 {
            return Err(VerifyError::Invalid(
                "its key can no longer mint tokens (status list)".into(),
            ));
        }
        Ok(())
    }

    async fn list(&self, uri: &str, jwks: &JwksClient) -> Result<Arc<List>, VerifyError> {
        let slot = {
            let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(lists.entry(uri.to_owned()).or_default())
        };
        let mut slot = slot.lock().await;
        let now = self.clock.now().unix_timestamp();
        if let Some(list) = slot
            .list
            .as_ref()
            .filter(|l| now < l.stale_at && now < l.exp)
        {
            return Ok(Arc::clone(list));
        }
        let may_try = slot
            .last_attempt
            .is_none_or(|at| now - at >= RETRY_AFTER_FAILURE);
        let mut failure = None;
        if may_try {
            slot.last_attempt = Some(now);
            match self.fetch(uri, jwks, now).await {
                Ok(list) => {
                    let list = Arc::new(list);
                    slot.list = Some(Arc::clone(&list));
                    return Ok(list);
                }
                Err(e) => {
                    tracing::warn!(error = %e, uri, "refreshing a status list failed");
                    failure = Some(e);
                }
            }
        }
        // The copy held decides within the bound past its last successful fetch.
        let bound = i64::try_from(self.bound.as_secs()).unwrap_or(i64::MAX);
        match slot.list.as_ref() {
            Some(list) if now - list.fetched_at <= bound && now < list.exp => Ok(Arc::clone(list)),
            _ => Err(VerifyError::Unavailable(format!(
                "status list {uri} not confirmed within {} s{}",
                self.bound.as_secs(),
                failure.map(|e| format!(": {e}")).unwrap_or_default()
            ))),
        }
    }

    async fn fetch(&self, uri: &str, jwks: &JwksClient, now: i64) -> Result<List, String> {
        let response = self
            .http
            .get(uri)
            .header(reqwest::header::ACCEPT, "application/statuslist+jwt")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("fetching failed: {e}"))?;
        let body = read_capped(response, MAX_TOKEN_BYTES, "the status list")
            .await
            .map_err(|e| e.0)?;
        let token = std::str::from_utf8(&body)
            .map_err(|_| "not text".to_owned())?
            .trim();
        let header = decode_header(token).map_err(|e| format!("malformed: {e}"))?;
        // §5.1: typ MUST be statuslist+jwt.
        if header.typ.as_deref() != Some("statuslist+jwt") {
            return Err("typ is not statuslist+jwt".into());
        }
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err("symmetric algorithms are not accepted".into());
        }
        let kid = header.kid.ok_or("no kid")?;
        let key = jwks
            .key(&kid)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("signed with a key the issuer does not publish")?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["sub", "exp", "iat"]);
        let claims = decode::<ListClaims>(token, &key, &validation)
            .map_err(|e| format!("invalid: {e}"))?
            .claims;
        // §8.3: sub MUST equal the uri the token names.
        if claims.sub != uri {
            return Err("sub is not the list's URI".into());
        }
        if claims.status_list.bits != 1 {
            return Err("not a one-bit list".into());
        }
        let compressed = URL_SAFE_NO_PAD
            .decode(claims.status_list.lst.as_bytes())
            .map_err(|_| "lst is not base64url")?;
        let mut bytes = Vec::new();
        ZlibDecoder::new(&compressed[..])
            .take(MAX_LIST_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|_| "lst is not zlib")?;
        if bytes.len() as u64 > MAX_LIST_BYTES {
            return Err("list too large".into());
        }
        let ttl = claims.ttl.unwrap_or(DEFAULT_TTL).clamp(1, 3600);
        Ok(List {
            bytes,
            fetched_at: now,
            stale_at: now + ttl,
            exp: claims.exp,
        })
    }
}

//! Client ids and secrets: generation from the OS CSPRNG, and argon2id hashing and
//! verification on tokio's blocking pool, bounded to one job per core so a flood of
//! verifications cannot pile up threads and memory.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

use crate::domain::ClientId;

/// Prefix of every client id.
pub const CLIENT_ID_PREFIX: &str = "kmc_";
/// Prefix of every client secret, so secret scanners can recognise leaked ones:
/// `kms_` followed by 43 URL-safe base64 characters (256 bits).
pub const SECRET_PREFIX: &str = "kms_";

/// OWASP's minimum for argon2id: m=19456 KiB, t=2, p=1.
const ARGON2_M_KIB: u32 = 19_456;
const ARGON2_T: u32 = 2;
const ARGON2_P: u32 = 1;

/// Random bytes from the OS CSPRNG, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // aws-lc's RNG is seeded from the OS; failure here means the OS has no entropy source.
    aws_lc_rs::rand::fill(&mut buf).expect("OS random number generator unavailable");
    URL_SAFE_NO_PAD.encode(&buf)
}

/// A new unguessable client id (128 bits).
pub fn new_client_id() -> ClientId {
    ClientId::new(format!("{CLIENT_ID_PREFIX}{}", random_token(16)))
}

/// A new client secret (256 bits).
pub fn new_client_secret() -> ClientSecret {
    ClientSecret(format!("{SECRET_PREFIX}{}", random_token(32)))
}

/// A client secret in clear text. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret presented by a client.
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The clear text; call only to hash it or to show it once to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// The hashing pool failed (not a wrong secret).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The blocking task died or the stored hash is unreadable.
    #[error("secret hashing failed: {0}")]
    Internal(&'static str),
}

/// argon2id hashing and verification off the async executor, at most `permits` at a time.
pub struct SecretHasher {
    argon2: Argon2<'static>,
    permits: Arc<Semaphore>,
    /// Running average of one verification in microseconds, used to make refusals of
    /// unknown client ids take as long as refusals of wrong secrets.
    avg_verify_micros: AtomicU64,
}

impl SecretHasher {
    /// A hasher with OWASP parameters, running at most `permits` jobs at once.
    pub fn new(permits: usize) -> Self {
        let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None)
            .expect("static argon2 parameters are valid");
        Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            permits: Arc::new(Semaphore::new(permits.max(1))),
            avg_verify_micros: AtomicU64::new(0),
        }
    }

    /// One job per available core.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Hashes `secret` into an argon2id PHC string.
    pub async fn hash(self: &Arc<Self>, secret: &ClientSecret) -> Result<String, HashError> {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| HashError::Internal("no randomness"))?;
        let secret = secret.clone();
        let this = Arc::clone(self);
        self.run(move || {
            let salt = SaltString::encode_b64(&salt).map_err(|_| HashError::Internal("salt"))?;
            this.argon2
                .hash_password(secret.expose().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|_| HashError::Internal("hash"))
        })
        .await
    }

    /// True when `secret` matches the PHC string `phc`.
    pub async fn verify(
        self: &Arc<Self>,
        secret: &ClientSecret,
        phc: &str,
    ) -> Result<bool, HashError> {
        let secret = secret.clone();
        let phc = phc.to_owned();
        let this = Arc::clone(self);
        let started = Instant::now();
        let ok = self
            .run(move || {
                let parsed = PasswordHash::new(&phc)
                    .map_err(|_| HashError::Internal("stored hash unreadable"))?;
                // verify_password compares in constant time.
                Ok(this
                    .argon2
                    .verify_password(secret.expose().as_bytes(), &parsed)
                    .is_ok())
            })
            .await?;
        self.record_verify(started.elapsed());
        Ok(ok)
    }

    /// How long a typical verification takes right now (queueing included).
    pub fn typical_verify_time(&self) -> Duration {
        Duration::from_micros(self.avg_verify_micros.load(Ordering::Relaxed))
    }

    /// Measures one verification so [`Self::typical_verify_time`] is meaningful from the start.
    pub async fn calibrate(self: &Arc<Self>) -> Result<(), HashError> {
        let secret = new_client_secret();
        let phc = self.hash(&secret).await?;
        self.verify(&secret, &phc).await.map(|_| ())
    }

    fn record_verify(&self, took: Duration) {
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        // Exponential moving average with weight 1/8; races only lose a sample.
        let old = self.avg_verify_micros.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        self.avg_verify_micros.store(new, Ordering::Relaxed);
    }

    async fn run<T, F>(&self, job: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, HashError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Internal("hasher closed"))?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|_| HashError::Internal("hashing task failed"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_secrets_are_url_safe_and_prefixed() {
        let id = new_client_id();
        let secret = new_client_secret();
        assert!(id.as_str().starts_with(CLIENT_ID_PREFIX));
        assert_eq!(id.as_str().len(), CLIENT_ID_PREFIX.len() + 22);
        assert!(secret.expose().starts_with(SECRET_PREFIX));
        // 32 bytes = 256 bits -> 43 base64 characters.
        assert_eq!(secret.expose().len(), SECRET_PREFIX.len() + 43);
        let url_safe = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        assert!(url_safe(id.as_str()) && url_safe(secret.expose()));
        assert_ne!(new_client_secret(), secret);
        assert!(!format!("{secret:?}").contains(secret.expose()));
    }

    #[tokio::test]
    async fn hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let hasher = Arc::new(SecretHasher::new(1));
        let secret = new_client_secret();
        let phc = hasher.hash(&secret).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hasher.verify(&secret, &phc).await.unwrap());
        assert!(!hasher.verify(&new_client_secret(), &phc).await.unwrap());
        assert!(hasher.typical_verify_time() > Duration::ZERO);
    }
}

//! The key ring: the signing keys of every served environment, opened from the store, with
//! the active key and the JWKS document of each. It reloads an environment when the change
//! feed says its keys changed (a rotation at any instance) and re-applies the schedule as
//! time passes, so every instance follows a rotation within a second, without a restart.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{EncryptionKeys, KeyLabel, KeyState, OpenError, Schedule, SigningAlg, SigningKey};
use crate::domain::EnvironmentName;
use crate::store::{InsertWhen, SigningKeyRecord, Store, StoreError, WriteContext};

/// Why signing keys could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    /// The store failed.
    #[error("signing keys: {0}")]
    Store(#[from] StoreError),
    /// A stored key does not open with the configured encryption keys.
    #[error("signing key {kid} of {environment}: {error}")]
    Open {
        /// The key.
        kid: String,
        /// Its environment.
        environment: String,
        /// Why.
        error: OpenError,
    },
    /// A stored key opened but is not the key its row names (the row was altered).
    #[error("signing key {kid} of {environment}: the stored key is not the key its row names")]
    Mismatch {
        /// The key.
        kid: String,
        /// Its environment.
        environment: String,
    },
    /// Key generation failed.
    #[error("could not generate a {0} key")]
    Generate(SigningAlg),
}

/// Keys of one environment at one moment.
#[derive(Debug)]
pub struct EnvironmentKeys {
    /// The key new tokens are signed with.
    pub active: Arc<SigningKey>,
    /// Every published key (next, active, retiring).
    pub published: Vec<Arc<SigningKey>>,
    /// The JWKS document (RFC 7517 §5), serialised once.
    pub jwks_json: String,
    /// (kid, state) of every key, to tell whether anything changed.
    fingerprint: Vec<(String, KeyState)>,
}

impl EnvironmentKeys {
    fn new(keys: &[OpenKey], schedule: &Schedule, now: OffsetDateTime) -> Option<Self> {
        let created: Vec<OffsetDateTime> = keys.iter().map(|k| k.created_at).collect();
        let states = schedule.classify(&created, now);
        let fingerprint = keys
            .iter()
            .zip(&states)
            .map(|(k, t)| (k.key.kid().to_owned(), t.state))
            .collect();
        let mut active = None;
        let mut published = Vec::new();
        for (key, timeline) in keys.iter().zip(states) {
            match timeline.state {
                KeyState::Active => {
                    active = Some(Arc::clone(&key.key));
                    published.push(Arc::clone(&key.key));
                }
                KeyState::Next | KeyState::Retiring => published.push(Arc::clone(&key.key)),
                KeyState::Retired => {}
            }
        }
        // Newest first, so the active or next key leads.
        published.reverse();
        let jwks = serde_json::json!({"keys": published.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()});
        Some(Self {
            active: active?,
            published,
            jwks_json: jwks.to_string(),
            fingerprint,
        })
    }
}

/// An opened key and when it was created.
#[derive(Debug, Clone)]
struct OpenKey {
    key: Arc<SigningKey>,
    created_at: OffsetDateTime,
}

/// Signing keys of every served environment.
pub struct KeyRing {
    store: Arc<dyn Store>,
    encryption: EncryptionKeys,
    envs: Vec<(EnvironmentName, SigningAlg)>,
    schedule: Schedule,
    opened: RwLock<HashMap<EnvironmentName, Vec<OpenKey>>>,
    current: RwLock<HashMap<EnvironmentName, Arc<EnvironmentKeys>>>,
    /// The latest time the schedule was applied at. States only move forward in time, so
    /// a reload that read the clock before a slow database read never undoes a
    /// transition applied meanwhile at a later time.
    applied_at: std::sync::Mutex<Option<OffsetDateTime>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("envs", &self.envs)
            .field("encryption", &self.encryption)
            .finish_non_exhaustive()
    }
}

/// Opens a stored key, checking it is the key its row names.
pub fn open_record(
    encryption: &EncryptionKeys,
    record: &SigningKeyRecord,
) -> Result<SigningKey, SigningKeyError> {
    open_with_der(encryption, record).map(|(key, _)| key)
}

/// Re-seals a stored key under the first encryption key (for `encryption-keys rewrap`).
pub fn reseal_record(
    encryption: &EncryptionKeys,
    record: &SigningKeyRecord,
) -> Result<SigningKeyRecord, SigningKeyError> {
    let (key, der) = open_with_der(encryption, record)?;
    Ok(seal_record(
        encryption,
        &record.environment,
        &key,
        &der,
        record.created_at,
    ))
}

fn open_with_der(
    encryption: &EncryptionKeys,
    record: &SigningKeyRecord,
) -> Result<(SigningKey, Zeroizing<Vec<u8>>), SigningKeyError> {
    let label = KeyLabel {
        kid: &record.kid,
        environment: record.environment.as_str(),
        alg: &record.alg,
    };
    let sealed = super::Sealed {
        key_id: record.encryption_key_id.clone(),
        nonce: record.nonce.clone(),
        ciphertext: record.ciphertext.clone(),
    };
    let der = encryption
        .open(label, &sealed)
        .map_err(|error| SigningKeyError::Open {
            kid: record.kid.clone(),
            environment: record.environment.to_string(),
            error,
        })?;
    let mismatch = || SigningKeyError::Mismatch {
        kid: record.kid.clone(),
        environment: record.environment.to_string(),
    };
    let key = SigningKey::from_pkcs8(&der).map_err(|_| mismatch())?;
    if key.kid() != record.kid || key.alg().as_str() != record.alg {
        return Err(mismatch());
    }
    Ok((key, der))
}

/// Seals `der` (the PKCS#8 of `key`) into a record of `environment` dated `created_at`.
pub fn seal_record(
    encryption: &EncryptionKeys,
    environment: &EnvironmentName,
    key: &SigningKey,
    der: &[u8],
    created_at: OffsetDateTime,
) -> SigningKeyRecord {
    let label = KeyLabel {
        kid: key.kid(),
        environment: environment.as_str(),
        alg: key.alg().as_str(),
    };
    let sealed = encryption.seal(label, der);
    SigningKeyRecord {
        kid: key.kid().to_owned(),
        environment: environment.clone(),
        alg: key.alg().as_str().to_owned(),
        created_at,
        encryption_key_id: sealed.key_id,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
    }
}

impl KeyRing {
    /// A ring with nothing loaded yet; [`Self::reload_all`] loads it.
    pub fn new(
        store: Arc<dyn Store>,
        encryption: EncryptionKeys,
        envs: Vec<(EnvironmentName, SigningAlg)>,
        schedule: Schedule,
    ) -> Self {
        Self {
            store,
            encryption,
            envs,
            schedule,
            opened: RwLock::new(HashMap::new()),
            current: RwLock::new(HashMap::new()),
            applied_at: std::sync::Mutex::new(None),
        }
    }

    /// Served environments and their algorithms.
    pub fn environments(&self) -> &[(EnvironmentName, SigningAlg)] {
        &self.envs
    }

    /// The encryption keys the ring opens and seals with.
    pub fn encryption(&self) -> &EncryptionKeys {
        &self.encryption
    }

    /// Generates a key for `env` and stores it if `when` holds (decided under the
    /// store's lock, so of instances racing one inserts); then reloads `env`. Returns the
    /// stored key, or `None` when `when` did not hold.
    pub async fn create(
        &self,
        env: &EnvironmentName,
        alg: SigningAlg,
        when: InsertWhen,
        ctx: &WriteContext,
    ) -> Result<Option<SigningKeyRecord>, SigningKeyError> {
        let (key, der) = SigningKey::generate(alg).map_err(|_| SigningKeyError::Generate(alg))?;
        let der = Zeroizing::new(der);
        let record = seal_record(&self.encryption, env, &key, &der, ctx.now);
        let stored = self.store.insert_signing_key(&record, when, ctx).await?;
        self.reload(env, ctx.now).await?;
        Ok(stored)
    }

    /// Re-reads the keys of `env` from the store (opening only keys not opened before)
    /// and applies the schedule at `now`.
    pub async fn reload(
        &self,
        env: &EnvironmentName,
        now: OffsetDateTime,
    ) -> Result<(), SigningKeyError> {
        let records = self.store.signing_keys(Some(env)).await?;
        let known: HashMap<String, Arc<SigningKey>> = self
            .opened
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(env)
            .map(|keys| {
                keys.iter()
                    .map(|k| (k.key.kid().to_owned(), Arc::clone(&k.key)))
                    .collect()
            })
            .unwrap_or_default();
        let mut keys = Vec::with_capacity(records.len());
        for record in &records {
            let key = match known.get(&record.kid) {
                Some(key) => Arc::clone(key),
                None => Arc::new(open_record(&self.encryption, record)?),
            };
            keys.push(OpenKey {
                key,
                created_at: record.created_at,
            });
        }
        self.opened
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(env.clone(), keys);
        self.apply_schedule_to(env, now);
        Ok(())
    }

    /// Reloads every served environment.
    pub async fn reload_all(&self, now: OffsetDateTime) -> Result<(), SigningKeyError> {
        for (env, _) in &self.envs {
            self.reload(env, now).await?;
        }
        Ok(())
    }

    /// Re-applies the schedule at `now` (keys becoming active or retired as time passes);
    /// cheap when nothing changed state.
    pub fn apply_schedule(&self, now: OffsetDateTime) {
        for (env, _) in &self.envs {
            self.apply_schedule_to(env, now);
        }
    }

    fn apply_schedule_to(&self, env: &EnvironmentName, now: OffsetDateTime) {
        let now = {
            let mut latest = self.applied_at.lock().unwrap_or_else(|e| e.into_inner());
            let now = latest.map_or(now, |l| l.max(now));
            *latest = Some(now);
            now
        };
        let opened = self.opened.read().unwrap_or_else(|e| e.into_inner());
        let Some(keys) = opened.get(env) else {
            return;
        };
        let Some(next) = EnvironmentKeys::new(keys, &self.schedule, now) else {
            return;
        };
        drop(opened);
        if self
            .get(env)
            .is_some_and(|keys| keys.fingerprint == next.fingerprint)
        {
            return;
        }
        tracing::info!(env = %env, active = %next.active.kid(), published = next.published.len(), "signing keys loaded");
        self.current
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(env.clone(), Arc::new(next));
    }

    /// When the newest key of `env` was created, as last loaded.
    pub fn newest_created(&self, env: &EnvironmentName) -> Option<OffsetDateTime> {
        self.opened
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(env)
            .and_then(|keys| keys.last())
            .map(|k| k.created_at)
    }

    /// Keys of `env`, if served.
    pub fn get(&self, env: &EnvironmentName) -> Option<Arc<EnvironmentKeys>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(env)
            .cloned()
    }

    /// True when every environment has an active key.
    pub fn is_complete(&self, envs: &[EnvironmentName]) -> bool {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        envs.iter().all(|e| current.contains_key(e))
    }

    /// The timing rules.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}

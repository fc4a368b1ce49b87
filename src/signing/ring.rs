//! The key ring: for each environment, the active signing key and the JWKS document,
//! refreshed from the keys directory while serving (new files, and state changes as time
//! passes), so running instances follow a rotation without a restart.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

use super::{KeyDir, KeyDirError, KeyState, Schedule, SigningAlg, SigningKey};
use crate::domain::EnvironmentName;

/// Keys of one environment at one moment.
#[derive(Debug)]
pub struct EnvironmentKeys {
    /// The key new tokens are signed with.
    pub active: Arc<SigningKey>,
    /// Every published key (next, active, retiring).
    pub published: Vec<Arc<SigningKey>>,
    /// The JWKS document (RFC 7517 §5), serialised once.
    pub jwks_json: String,
    /// (kid, state) of every key, to tell whether a refresh changed anything.
    fingerprint: Vec<(String, KeyState)>,
}

impl EnvironmentKeys {
    fn new(keys: Vec<(SigningKey, KeyState)>) -> Option<Self> {
        let fingerprint = keys.iter().map(|(k, s)| (k.kid().to_owned(), *s)).collect();
        let mut active = None;
        let mut published = Vec::new();
        for (key, state) in keys {
            let key = Arc::new(key);
            match state {
                KeyState::Active => {
                    active = Some(Arc::clone(&key));
                    published.push(key);
                }
                KeyState::Next | KeyState::Retiring => published.push(key),
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

/// Signing keys of every served environment.
#[derive(Debug)]
pub struct KeyRing {
    dir: KeyDir,
    envs: Vec<(EnvironmentName, SigningAlg)>,
    schedule: Schedule,
    current: RwLock<HashMap<EnvironmentName, Arc<EnvironmentKeys>>>,
}

impl KeyRing {
    /// Loads the keys of each environment, generating missing ones.
    pub fn load_or_create(
        dir: KeyDir,
        envs: Vec<(EnvironmentName, SigningAlg)>,
        schedule: Schedule,
        now: OffsetDateTime,
    ) -> Result<Self, KeyDirError> {
        for (env, alg) in &envs {
            dir.ensure(env, *alg, now)?;
        }
        let ring = Self {
            dir,
            envs,
            schedule,
            current: RwLock::new(HashMap::new()),
        };
        ring.refresh(now)?;
        Ok(ring)
    }

    /// Re-reads the keys directory and re-applies the schedule at `now`. Cheap when
    /// nothing changed (file names are listed; keys are parsed only on a change).
    pub fn refresh(&self, now: OffsetDateTime) -> Result<(), KeyDirError> {
        for (env, _) in &self.envs {
            let timeline = self.dir.timeline(env, &self.schedule, now)?;
            let unchanged = self
                .get(env)
                .is_some_and(|keys| keys.fingerprint == timeline);
            if unchanged {
                continue;
            }
            let keys = self.dir.load(env)?;
            let states = self
                .schedule
                .classify(&keys.iter().map(|k| k.created_at).collect::<Vec<_>>(), now);
            let set = keys
                .into_iter()
                .zip(states)
                .map(|(k, t)| (k.key, t.state))
                .collect();
            if let Some(keys) = EnvironmentKeys::new(set) {
                tracing::info!(env = %env, active = %keys.active.kid(), published = keys.published.len(), "signing keys loaded");
                self.current
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(env.clone(), Arc::new(keys));
            }
        }
        Ok(())
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

    /// The directory the ring reads.
    pub fn dir(&self) -> &KeyDir {
        &self.dir
    }
}

//! The key ring: for each environment, the active signing key and the JWKS document.

use std::collections::HashMap;
use std::sync::Arc;

use super::{KeyDir, KeyDirError, SigningAlg, SigningKey};
use crate::domain::EnvironmentName;

/// Keys of one environment.
#[derive(Debug)]
pub struct EnvironmentKeys {
    /// The key new tokens are signed with.
    pub active: Arc<SigningKey>,
    /// Every published key, active included.
    pub published: Vec<Arc<SigningKey>>,
    /// The JWKS document (RFC 7517 §5), serialised once.
    pub jwks_json: String,
}

impl EnvironmentKeys {
    /// Builds the set; the last key is the active one.
    pub fn new(keys: Vec<SigningKey>) -> Option<Self> {
        let published: Vec<Arc<SigningKey>> = keys.into_iter().map(Arc::new).collect();
        let active = Arc::clone(published.last()?);
        let jwks = serde_json::json!({
            "keys": published.iter().rev().map(|k| k.public_jwk()).collect::<Vec<_>>()
        });
        Some(Self {
            active,
            published,
            jwks_json: jwks.to_string(),
        })
    }
}

/// Signing keys of every served environment.
#[derive(Debug, Default)]
pub struct KeyRing {
    envs: HashMap<EnvironmentName, EnvironmentKeys>,
}

impl KeyRing {
    /// Loads the keys of each environment, generating missing ones.
    pub fn load_or_create(
        dir: &KeyDir,
        envs: &[(EnvironmentName, SigningAlg)],
        now: time::OffsetDateTime,
    ) -> Result<Self, KeyDirError> {
        let mut ring = Self::default();
        for (env, alg) in envs {
            let keys = dir
                .ensure(env, *alg, now)?
                .into_iter()
                .map(|k| k.key)
                .collect();
            if let Some(keys) = EnvironmentKeys::new(keys) {
                ring.envs.insert(env.clone(), keys);
            }
        }
        Ok(ring)
    }

    /// Keys of `env`, if served.
    pub fn get(&self, env: &EnvironmentName) -> Option<&EnvironmentKeys> {
        self.envs.get(env)
    }

    /// True when every environment has an active key.
    pub fn is_complete(&self, envs: &[EnvironmentName]) -> bool {
        envs.iter().all(|e| self.envs.contains_key(e))
    }
}

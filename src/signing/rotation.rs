//! Scheduled rotation (`KEYMINT_SIGNING_KEY_ROTATE_DAYS`) and the periodic re-read of
//! the key directory, run by the sync task every second.

use time::OffsetDateTime;

use super::{KeyDirError, KeyRing, SigningAlg};
use crate::domain::EnvironmentName;

/// When and for which environments new signing keys are created.
#[derive(Debug, Clone)]
pub struct RotationPolicy {
    /// Create a key when the newest of an environment is this many days old; `None`: never.
    pub every_days: Option<u64>,
    /// Every configured environment and its algorithm.
    pub environments: Vec<(EnvironmentName, SigningAlg)>,
}

/// Starts the rotations that are due, then re-reads the signing keys (new files,
/// publish delays passing). Failures are logged: the current keys stay in use. Returns
/// the keys this call created (environment and kid), for the audit trail.
pub fn refresh(
    keys: &KeyRing,
    policy: &RotationPolicy,
    now: OffsetDateTime,
) -> Vec<(EnvironmentName, String)> {
    let mut created = Vec::new();
    if let Some(days) = policy.every_days {
        for (env, alg) in &policy.environments {
            match rotate_if_due(keys, env, *alg, days, now) {
                Ok(Some(kid)) => created.push((env.clone(), kid)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(env = %env, error = %e, "scheduled signing-key rotation failed");
                }
            }
        }
    }
    if let Err(e) = keys.refresh(now) {
        tracing::warn!(error = %e, "re-reading signing keys failed; keeping the current ones");
    }
    created
}

fn rotate_if_due(
    keys: &KeyRing,
    env: &EnvironmentName,
    alg: SigningAlg,
    days: u64,
    now: OffsetDateTime,
) -> Result<Option<String>, KeyDirError> {
    let dir = keys.dir();
    let newest = dir.load(env)?.last().map(|k| k.created_at);
    let due = newest.is_none_or(|created| now - created >= time::Duration::days(days as i64));
    // Instances sharing the keys directory race here; the per-day lock lets one win.
    if due && dir.claim_rotation(env, now)? {
        let created = dir.create(env, alg, now)?;
        tracing::info!(env = %env, kid = %created.key.kid(), "scheduled signing-key rotation: new key published");
        return Ok(Some(created.key.kid().to_owned()));
    }
    Ok(None)
}

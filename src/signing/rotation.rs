//! Scheduled rotation (`KEYMINT_SIGNING_KEY_ROTATE_DAYS`), checked by the sync task. Of
//! instances checking at once, one creates the key (the store decides under its lock);
//! the others learn of it from the change feed.

use super::{KeyRing, SigningKeyError};
use crate::domain::EnvironmentName;
use crate::store::{InsertWhen, WriteContext};

/// When new signing keys are created.
#[derive(Debug, Clone, Copy)]
pub struct RotationPolicy {
    /// Create a key when the newest of an environment is this many days old; `None`: never.
    pub every_days: Option<u64>,
}

/// Creates a key for each environment whose newest key is due for rotation at `ctx.now`;
/// returns the environments and kids created here.
pub async fn rotate_due(
    ring: &KeyRing,
    policy: RotationPolicy,
    ctx: &WriteContext,
) -> Result<Vec<(EnvironmentName, String)>, SigningKeyError> {
    let Some(days) = policy.every_days else {
        return Ok(Vec::new());
    };
    let due_before =
        ctx.now - time::Duration::days(i64::try_from(days).unwrap_or(i64::MAX / 86_400));
    let mut created = Vec::new();
    for (env, alg) in ring.environments() {
        if let Some(key) = ring
            .create(env, *alg, InsertWhen::NewestBefore(due_before), ctx)
            .await?
        {
            tracing::info!(env = %env, kid = %key.kid, "scheduled signing-key rotation: new key published");
            created.push((env.clone(), key.kid));
        }
    }
    Ok(created)
}

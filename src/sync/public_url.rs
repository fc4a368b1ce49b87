//! One public URL per database. Tokens carry the URL an instance serves in `iss`, so an
//! instance serving another URL refuses them (`{"active": false}`, `InvalidIssuer`).
//! Every instance records its `KEYMINT_PUBLIC_URL` in the database at start-up and every
//! [`CHECK_EVERY`], and warns (log, `/readyz` detail) while others recorded within
//! [`WINDOW`] differ.

use std::time::Duration;

use super::SyncTask;
use crate::store::StoreError;

/// How often an instance records its URL and looks at the others'.
pub const CHECK_EVERY: Duration = Duration::from_secs(30);

/// URLs recorded within this window count as served now (a stopped or reconfigured
/// instance's old URL drops out after it).
pub const WINDOW: time::Duration = time::Duration::minutes(2);

/// Records this instance's URL and notes the others; a warning when they start to
/// differ, an info line when they agree again.
pub async fn check(state: &SyncTask) -> Result<(), StoreError> {
    let now = state.clock.now();
    state
        .store
        .record_public_url(&state.public_url, now)
        .await?;
    let others: Vec<String> = state
        .store
        .public_urls(now - WINDOW)
        .await?
        .into_iter()
        .filter(|url| *url != state.public_url)
        .collect();
    if state.status.set_other_public_urls(others.clone()) {
        if others.is_empty() {
            tracing::info!(public_url = %state.public_url, "every instance on this database now serves the same public URL");
        } else {
            tracing::warn!(
                public_url = %state.public_url,
                others = %others.join(", "),
                "instances on this database serve other public URLs: tokens minted at one are refused at the others; give every instance the same KEYMINT_PUBLIC_URL"
            );
        }
    }
    Ok(())
}

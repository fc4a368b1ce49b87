//! `lastUsedAt` without a database write per token request: successful issuances are
//! noted in memory (to the minute) and written in one batch by the sync task.

use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

use crate::domain::ClientId;

/// Pending last-use times.
#[derive(Debug, Default)]
pub struct UsageTracker {
    pending: Mutex<HashMap<ClientId, OffsetDateTime>>,
}

impl UsageTracker {
    /// Notes that `client_id` was used at `at` (rounded down to the minute).
    pub fn touch(&self, client_id: &ClientId, at: OffsetDateTime) {
        let minute = at
            .replace_second(0)
            .and_then(|t| t.replace_nanosecond(0))
            .unwrap_or(at);
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.get_mut(client_id) {
            Some(existing) if *existing >= minute => {}
            Some(existing) => *existing = minute,
            None => {
                pending.insert(client_id.clone(), minute);
            }
        }
    }

    /// Takes everything noted so far.
    pub fn drain(&self) -> Vec<(ClientId, OffsetDateTime)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.drain().collect()
    }

    /// Puts back entries whose write failed, keeping newer ones noted meanwhile.
    pub fn restore(&self, entries: Vec<(ClientId, OffsetDateTime)>) {
        for (client_id, at) in entries {
            self.touch(&client_id, at);
        }
    }
}

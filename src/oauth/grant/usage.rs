//! `lastUsedAt` and the address of last use without a database write per token request:
//! successful issuances are noted in memory (to the minute, with the latest address) and
//! written in one batch by the sync task.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use time::OffsetDateTime;

use crate::domain::ClientId;
use crate::store::KeyUse;

/// Pending last uses.
#[derive(Debug, Default)]
pub struct UsageTracker {
    pending: Mutex<HashMap<ClientId, (OffsetDateTime, Option<IpAddr>)>>,
}

impl UsageTracker {
    /// Notes that `client_id` was used at `at` (rounded down to the minute) from `ip`.
    pub fn touch(&self, client_id: &ClientId, at: OffsetDateTime, ip: Option<IpAddr>) {
        let minute = at
            .replace_second(0)
            .and_then(|t| t.replace_nanosecond(0))
            .unwrap_or(at);
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.get_mut(client_id) {
            Some(existing) if existing.0 > minute => {}
            Some(existing) => *existing = (minute, ip.or(existing.1)),
            None => {
                pending.insert(client_id.clone(), (minute, ip));
            }
        }
    }

    /// Takes everything noted so far.
    pub fn drain(&self) -> Vec<KeyUse> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending
            .drain()
            .map(|(client_id, (at, ip))| KeyUse { client_id, at, ip })
            .collect()
    }

    /// Puts back entries whose write failed, keeping newer ones noted meanwhile.
    pub fn restore(&self, entries: Vec<KeyUse>) {
        for used in entries {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            match pending.get_mut(&used.client_id) {
                Some(existing) if existing.0 >= used.at => {}
                Some(existing) => *existing = (used.at, used.ip),
                None => {
                    pending.insert(used.client_id, (used.at, used.ip));
                }
            }
        }
    }
}

//! What the sync task has seen, read by `/readyz` and `/metrics`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long the listener may be down before `/readyz` reports it.
const READY_GRACE: Duration = Duration::from_secs(5);

/// State of the sync task, read by `/readyz` and `/metrics`.
#[derive(Debug)]
pub struct SyncStatus {
    /// Name recorded on the `keymint_user_events` rows this instance applies.
    pub instance: String,
    pub(super) last_change: AtomicI64,
    connected: AtomicBool,
    down_since: Mutex<Option<(Instant, String)>>,
    /// Table events applied by this instance.
    pub events_applied: AtomicU64,
    /// Table events that could not be applied (recorded on their rows).
    pub events_rejected: AtomicU64,
    /// Unprocessed `keymint_user_events` rows at the last look.
    pub backlog: AtomicI64,
    /// Age in milliseconds of the oldest unprocessed row at the last look.
    pub lag_ms: AtomicU64,
    /// Times the notification connection was (re)established.
    pub connects: AtomicU64,
    /// Reloads of signing keys that failed (a key this instance cannot open, say).
    pub signing_key_reload_failures: AtomicU64,
    other_public_urls: Mutex<Vec<String>>,
}

impl SyncStatus {
    /// A status starting after change-feed position `last_change`.
    pub fn new(last_change: i64) -> Self {
        Self {
            instance: format!(
                "keymint-{}-{}",
                std::process::id(),
                crate::secrets::random_token(4)
            ),
            last_change: AtomicI64::new(last_change),
            connected: AtomicBool::new(true),
            down_since: Mutex::new(None),
            events_applied: AtomicU64::new(0),
            events_rejected: AtomicU64::new(0),
            backlog: AtomicI64::new(0),
            lag_ms: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            signing_key_reload_failures: AtomicU64::new(0),
            other_public_urls: Mutex::new(Vec::new()),
        }
    }

    /// Public URLs other instances on this database served recently (empty when all
    /// agree), as of the last check.
    pub fn other_public_urls(&self) -> Vec<String> {
        self.other_public_urls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Notes the other public URLs; true when they changed.
    pub(super) fn set_other_public_urls(&self, urls: Vec<String>) -> bool {
        let mut held = self
            .other_public_urls
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let changed = *held != urls;
        *held = urls;
        changed
    }

    /// `Some(reason)` when notifications have been down longer than the grace period.
    pub fn listener_problem(&self) -> Option<String> {
        let down = self.down_since.lock().unwrap_or_else(|e| e.into_inner());
        match &*down {
            Some((since, reason)) if since.elapsed() > READY_GRACE => Some(reason.clone()),
            _ => None,
        }
    }

    /// The change-feed position this instance has published up to.
    pub fn last_change(&self) -> i64 {
        self.last_change.load(Ordering::SeqCst)
    }

    /// 1 while the notification connection is up (always 1 on SQLite).
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub(super) fn set_connected(&self, up: bool, reason: Option<String>) {
        self.connected.store(up, Ordering::Relaxed);
        let mut down = self.down_since.lock().unwrap_or_else(|e| e.into_inner());
        match (up, down.is_some()) {
            (true, _) => *down = None,
            (false, false) => *down = Some((Instant::now(), reason.unwrap_or_default())),
            (false, true) => {}
        }
    }
}

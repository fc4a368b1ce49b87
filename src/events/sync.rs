//! The background task every instance runs: applies `keymint_user_events` rows
//! (PostgreSQL) and follows the change feed into [`crate::changes::ChangeFeed`].
//! Woken by NOTIFY where the database has it, polled otherwise.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

use crate::app::AppState;
use crate::changes::Change;
use crate::store::{Store, StoreError, Wakeup};

/// How long the listener may be down before `/readyz` reports it.
const READY_GRACE: Duration = Duration::from_secs(5);
/// How often the signing keys are re-read (new files, publish delays passing).
const KEY_REFRESH: Duration = Duration::from_secs(1);
/// How often last-use times are written (keeps `lastUsedAt` current to the minute).
const USAGE_FLUSH: Duration = Duration::from_secs(30);
/// How long change-feed rows and webhook ids are kept.
const RETENTION: time::Duration = time::Duration::hours(1);

/// State of the sync task, read by `/readyz` and `/metrics`.
#[derive(Debug)]
pub struct SyncStatus {
    /// Name recorded on the `keymint_user_events` rows this instance applies.
    pub instance: String,
    last_change: AtomicI64,
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
        }
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

    fn set_connected(&self, up: bool, reason: Option<String>) {
        self.connected.store(up, Ordering::Relaxed);
        let mut down = self.down_since.lock().unwrap_or_else(|e| e.into_inner());
        match (up, down.is_some()) {
            (true, _) => *down = None,
            (false, false) => *down = Some((Instant::now(), reason.unwrap_or_default())),
            (false, true) => {}
        }
    }
}

/// Applies every pending `keymint_user_events` row; run before serving so an instance
/// that was down refuses deactivated users' keys as soon as it is ready.
pub async fn catch_up(state: &AppState) -> Result<(), StoreError> {
    apply_table_events(state).await
}

/// Runs until `shutdown` turns true.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let store = &state.store;
    let mut wakeups = store.wakeups().await;
    let mut last_prune = Instant::now();
    let mut last_flush = Instant::now();
    let mut last_keys = Instant::now();
    loop {
        let wakeup = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            w = async {
                match wakeups.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => w,
            () = tokio::time::sleep(store.poll_interval()) => None,
        };
        match wakeup {
            Some(Wakeup::Connected) => {
                // Anything may have happened while we were not listening.
                state.sync.set_connected(true, None);
                state.sync.connects.fetch_add(1, Ordering::SeqCst);
                state.changes.publish(Change::All);
                tracing::info!("database notifications connected");
            }
            Some(Wakeup::Disconnected(reason)) => {
                if state.sync.connected() {
                    tracing::warn!(%reason, "database notifications lost; reconnecting");
                }
                state.sync.set_connected(false, Some(reason));
            }
            _ => {}
        }
        if let Err(e) = apply_table_events(&state).await {
            tracing::warn!(error = %e, "applying user events failed; will retry");
        }
        if let Err(e) = follow_changes(&state).await {
            tracing::warn!(error = %e, "reading the change feed failed; will retry");
        }
        if last_keys.elapsed() >= KEY_REFRESH {
            last_keys = Instant::now();
            refresh_signing_keys(&state);
        }
        if let Err(e) = expire_keys(&state).await {
            tracing::warn!(error = %e, "expiring keys failed; will retry");
        }
        if last_flush.elapsed() > USAGE_FLUSH {
            last_flush = Instant::now();
            flush_usage(&state).await;
        }
        if last_prune.elapsed() > Duration::from_secs(600) {
            last_prune = Instant::now();
            if let Err(e) = store.prune(state.clock.now() - RETENTION).await {
                tracing::warn!(error = %e, "pruning the change feed failed");
            }
        }
    }
    // Shutting down: write what is batched.
    flush_usage(&state).await;
}

async fn apply_table_events(state: &AppState) -> Result<(), StoreError> {
    let store: &dyn Store = state.store.as_ref();
    while let Some(outcome) = store
        .apply_next_table_event(&state.sync.instance, state.clock.now())
        .await?
    {
        match outcome.result {
            Ok(result) => {
                state.sync.events_applied.fetch_add(1, Ordering::Relaxed);
                tracing::info!(row = outcome.id, user = %result.user.id, active = result.user.active, keys_disabled = result.disabled_keys.len(), "user event applied from keymint_user_events");
            }
            Err(reason) => {
                state.sync.events_rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(row = outcome.id, %reason, "user event rejected; reason recorded on the row");
            }
        }
    }
    let (backlog, oldest) = store.table_event_backlog().await?;
    state.sync.backlog.store(backlog, Ordering::Relaxed);
    let lag = oldest.map_or(0, |at| {
        u64::try_from((state.clock.now() - at).whole_milliseconds().max(0)).unwrap_or(u64::MAX)
    });
    state.sync.lag_ms.store(lag, Ordering::Relaxed);
    Ok(())
}

async fn follow_changes(state: &AppState) -> Result<(), StoreError> {
    loop {
        let after = state.sync.last_change.load(Ordering::SeqCst);
        let records = state.store.changes_since(after, 500).await?;
        let Some(last) = records.last() else {
            return Ok(());
        };
        let last = last.seq;
        for record in &records {
            state
                .changes
                .publish(Change::from_record(&record.kind, &record.subject));
        }
        state.sync.last_change.store(last, Ordering::SeqCst);
        if records.len() < 500 {
            return Ok(());
        }
    }
}

/// Disables keys that reached their expiry, so listings and the audit trail show it.
async fn expire_keys(state: &AppState) -> Result<(), StoreError> {
    for key in state.store.expire_keys(state.clock.now()).await? {
        tracing::info!(client_id = %key.client_id, env = %key.environment, "api key expired");
        state.changes.publish(Change::Key(key.client_id));
    }
    Ok(())
}

/// Writes pending last-use times; keeps them for the next try if the write fails.
pub async fn flush_usage(state: &AppState) {
    let uses = state.usage.drain();
    if uses.is_empty() {
        return;
    }
    if let Err(e) = state.store.record_last_used(&uses).await {
        tracing::warn!(error = %e, "writing last-use times failed; will retry");
        state.usage.restore(uses);
    }
}

/// Re-reads the signing keys and, with `KEYMINT_SIGNING_KEY_ROTATE_DAYS`, starts a
/// rotation when the newest key of an environment is that old.
pub fn refresh_signing_keys(state: &AppState) {
    let now = state.clock.now();
    if let Some(days) = state.config.signing_rotate_days {
        for env in &state.config.environments {
            if let Err(e) = rotate_if_due(state, &env.name, env.alg, days, now) {
                tracing::warn!(env = %env.name, error = %e, "scheduled signing-key rotation failed");
            }
        }
    }
    if let Err(e) = state.keys.refresh(now) {
        tracing::warn!(error = %e, "re-reading signing keys failed; keeping the current ones");
    }
}

fn rotate_if_due(
    state: &AppState,
    env: &crate::domain::EnvironmentName,
    alg: crate::signing::SigningAlg,
    days: u64,
    now: time::OffsetDateTime,
) -> Result<(), crate::signing::KeyDirError> {
    let dir = state.keys.dir();
    let newest = dir.load(env)?.last().map(|k| k.created_at);
    let due = newest.is_none_or(|created| now - created >= time::Duration::days(days as i64));
    // Instances sharing the keys directory race here; the per-day lock lets one win.
    if due && dir.claim_rotation(env, now)? {
        let created = dir.create(env, alg, now)?;
        tracing::info!(env = %env, kid = %created.key.kid(), "scheduled signing-key rotation: new key published");
    }
    Ok(())
}

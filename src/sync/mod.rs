//! The background work every instance runs: one loop applies `keymint_user_events` rows
//! (PostgreSQL); another follows the change feed into [`ChangeFeed`], expires keys,
//! writes last-use times, and refreshes the signing keys. Both are woken by NOTIFY
//! (through [`wakeups`]) where the database has it, and polled otherwise.

pub mod public_url;
mod status;
mod wakeups;

pub use status::SyncStatus;
use wakeups::{Signals, route};

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;

use crate::changes::{Change, ChangeFeed};
use crate::clock::Clock;
use crate::domain::{Actor, ChangeSource, EnvironmentName};
use crate::oauth::{RevocationList, UsageTracker};
use crate::signing::{KeyRing, RotationPolicy};
use crate::store::{Store, StoreError, WriteContext};

/// How often the signing keys are re-read (new files, publish delays passing), and
/// expired keys swept.
const KEY_REFRESH: Duration = Duration::from_secs(1);
/// How soon the table-event loop looks again while rows are left pending.
const BACKLOG_RECHECK: Duration = Duration::from_millis(50);
/// How often last-use times are written (keeps `lastUsedAt` current to the minute).
const USAGE_FLUSH: Duration = Duration::from_secs(30);
/// How often expired rows are deleted (console sign-ins by their own expiry, so a flood
/// of starts is gone within minutes).
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How often keys expiring soon are looked for (`key.expiring`).
const WARN_EVERY: Duration = Duration::from_secs(30);
/// How long change-feed rows and webhook ids are kept.
const RETENTION: time::Duration = time::Duration::hours(1);

/// Longest wait for one read of the feed (or the revocations): a link that went dark
/// must not hold the loop, which retries on another connection.
const READ_DEADLINE: Duration = Duration::from_secs(5);
/// How often the watchdog looks at the feed's staleness.
const WATCH_EVERY: Duration = Duration::from_millis(250);

async fn within<T>(read: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    tokio::time::timeout(READ_DEADLINE, read)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Backend(format!(
                "no answer within {} s",
                READ_DEADLINE.as_secs()
            )))
        })
}

/// Logs, once per episode, that the feed has not been confirmed within the bound (the
/// feed loop may itself be stuck on a dark link, so it cannot say so).
async fn watch_staleness(changes: Arc<ChangeFeed>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            () = tokio::time::sleep(WATCH_EVERY) => {}
        }
        let freshness = changes.freshness();
        if freshness.note_if_stale() {
            tracing::warn!(
                stale_for_s = freshness.staleness().as_secs_f64(),
                max_staleness_s = freshness.bound().as_secs(),
                "change feed not confirmed within KEYMINT_MAX_STALENESS: caches bypassed, the database answers every request (503 while it cannot be reached)"
            );
        }
    }
}

/// What the sync task reads and writes.
#[derive(Clone)]
pub struct SyncTask {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Where changes are published in this process.
    pub changes: Arc<ChangeFeed>,
    /// What `/readyz` and `/metrics` read.
    pub status: Arc<SyncStatus>,
    /// Last-use times waiting to be written.
    pub usage: Arc<UsageTracker>,
    /// Signing keys to refresh.
    pub keys: Arc<KeyRing>,
    /// Revocations to reload after `Change::All`, and to prune.
    pub revocations: Arc<RevocationList>,
    /// Scheduled signing-key rotation.
    pub rotation: RotationPolicy,
    /// The `KEYMINT_PUBLIC_URL` this instance serves.
    pub public_url: String,
    /// `KEYMINT_KEY_EXPIRY_WARNING_DAYS`, as a duration.
    pub expiry_warning: time::Duration,
}

/// Applies every pending `keymint_user_events` row; run before serving so an instance
/// that was down refuses deactivated users' keys as soon as it is ready.
pub async fn catch_up(state: &SyncTask) -> Result<(), StoreError> {
    apply_table_events(state).await
}

/// Runs until `shutdown` turns true: the table-event loop and the change-feed loop side by
/// side, so a deactivation written to `keymint_user_events` never waits behind a busy
/// feed (or the feed behind a slow event), and wake-ups that arrive while a loop works
/// fold into one pass.
pub async fn run(state: SyncTask, shutdown: watch::Receiver<bool>) {
    let signals = Arc::new(Signals::default());
    let routed = match state.store.wakeups().await {
        Some(rx) => Some(tokio::spawn(route(
            rx,
            Arc::clone(&signals),
            Arc::clone(&state.status),
            Arc::clone(&state.changes),
        ))),
        None => None,
    };
    let watchdog = tokio::spawn(watch_staleness(
        Arc::clone(&state.changes),
        shutdown.clone(),
    ));
    let events = tokio::spawn(table_event_loop(
        state.clone(),
        Arc::clone(&signals),
        shutdown.clone(),
    ));
    feed_loop(&state, &signals, shutdown).await;
    let _ = events.await;
    let _ = watchdog.await;
    if let Some(routed) = routed {
        routed.abort();
    }
    // Shutting down: write what is batched.
    flush_usage(&state).await;
}

/// Applies `keymint_user_events` rows whenever they are announced (or every poll
/// interval, as a safety net), and nothing else.
async fn table_event_loop(
    state: SyncTask,
    signals: Arc<Signals>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut wait = state.store.poll_interval();
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            () = signals.table_events.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
        if let Err(e) = within(apply_table_events(&state)).await {
            tracing::warn!(error = %e, "applying user events failed; will retry");
        }
        // Rows left pending are being applied by another instance (or wait for a retry):
        // look again soon, so this instance's backlog and lag gauges follow them.
        wait = if state.status.backlog.load(Ordering::Relaxed) > 0 {
            BACKLOG_RECHECK.min(state.store.poll_interval())
        } else {
            state.store.poll_interval()
        };
    }
}

/// Follows the change feed and does the periodic chores: signing keys, key expiry,
/// last-use times, pruning.
async fn feed_loop(state: &SyncTask, signals: &Signals, mut shutdown: watch::Receiver<bool>) {
    let store = &state.store;
    let mut last_prune = Instant::now();
    let mut last_flush = Instant::now();
    let mut last_keys = Instant::now();
    let mut last_url_check = Instant::now();
    let mut last_warning = None::<Instant>;
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            () = signals.changes.notified() => {}
            () = tokio::time::sleep(store.poll_interval()) => {}
        }
        if signals.reconnected.swap(false, Ordering::SeqCst) {
            // Anything may have happened while we were not listening.
            let _ = tokio::time::timeout(READ_DEADLINE, reload_signing_keys(state, None)).await;
        }
        let began = Instant::now();
        match within(follow_changes(state)).await {
            Ok(()) => {
                let changes = &state.changes;
                // After a gap past KEYMINT_MAX_STALENESS, whatever may have been missed is
                // forgotten before memory decides requests again.
                let resynced = changes
                    .freshness()
                    .confirm(began, || changes.publish(Change::All));
                if let Some(gap) = resynced {
                    tracing::info!(
                        stale_for_s = gap.as_secs_f64(),
                        "change feed confirmed again: caches emptied, memory decides requests again"
                    );
                    let reload = reload_signing_keys(state, None);
                    let _ = tokio::time::timeout(READ_DEADLINE, reload).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading the change feed failed; will retry"),
        }
        if state.revocations.needs_load() {
            let now = state.clock.now();
            let loaded = within(state.revocations.load(store.as_ref(), now)).await;
            if let Err(e) = loaded {
                tracing::warn!(error = %e, "reading the revocations failed; will retry");
            }
        }
        if last_keys.elapsed() >= KEY_REFRESH {
            last_keys = Instant::now();
            let _ = tokio::time::timeout(READ_DEADLINE, refresh_signing_keys(state)).await;
            state.revocations.prune(state.clock.now());
            // Requests check a key's expiry themselves; the sweep is for listings and
            // the audit trail, so once a second keeps busy passes short.
            if let Err(e) = within(expire_keys(state)).await {
                tracing::warn!(error = %e, "expiring keys failed; will retry");
            }
        }
        if last_warning.is_none_or(|at| at.elapsed() > WARN_EVERY) {
            last_warning = Some(Instant::now());
            if let Err(e) = within(warn_expiring(state)).await {
                tracing::warn!(error = %e, "announcing expiring keys failed; will retry");
            }
        }
        if last_url_check.elapsed() > public_url::CHECK_EVERY {
            last_url_check = Instant::now();
            if let Err(e) = within(public_url::check(state)).await {
                tracing::warn!(error = %e, "recording the public URL failed; will retry");
            }
        }
        if last_flush.elapsed() > USAGE_FLUSH {
            last_flush = Instant::now();
            flush_usage(state).await;
        }
        if last_prune.elapsed() > PRUNE_EVERY {
            last_prune = Instant::now();
            if let Err(e) = within(store.prune(state.clock.now(), RETENTION)).await {
                tracing::warn!(error = %e, "pruning the change feed failed");
            }
        }
    }
}

async fn apply_table_events(state: &SyncTask) -> Result<(), StoreError> {
    let store: &dyn Store = state.store.as_ref();
    while let Some(outcome) = store
        .apply_next_table_event(&state.status.instance, state.clock.now())
        .await?
    {
        match outcome.result {
            Ok(result) => {
                // This instance learns at once; the others through the feed rows the
                // same transaction wrote.
                for key in &result.disabled_keys {
                    state.changes.publish(Change::Key(key.client_id.clone()));
                }
                state.changes.publish(Change::User(result.user.id.clone()));
                state.status.events_applied.fetch_add(1, Ordering::Relaxed);
                tracing::info!(row = outcome.id, user = %result.user.id, active = result.user.active, keys_disabled = result.disabled_keys.len(), "user event applied from keymint_user_events");
            }
            Err(reason) => {
                state.status.events_rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(row = outcome.id, %reason, "user event rejected; reason recorded on the row");
            }
        }
    }
    let (backlog, oldest) = store.table_event_backlog().await?;
    state.status.backlog.store(backlog, Ordering::Relaxed);
    let lag = oldest.map_or(0, |at| {
        u64::try_from((state.clock.now() - at).whole_milliseconds().max(0)).unwrap_or(u64::MAX)
    });
    state.status.lag_ms.store(lag, Ordering::Relaxed);
    Ok(())
}

async fn follow_changes(state: &SyncTask) -> Result<(), StoreError> {
    loop {
        let after = state.status.last_change.load(Ordering::SeqCst);
        let records = state.store.changes_since(after, 500).await?;
        let Some(last) = records.last() else {
            return Ok(());
        };
        let last = last.seq;
        let mut signing: Option<Vec<EnvironmentName>> = Some(Vec::new());
        for record in &records {
            let change = Change::from_record(&record.kind, &record.subject);
            match (&change, signing.as_mut()) {
                (Change::SigningKeys(env), Some(envs)) if !envs.contains(env) => {
                    envs.push(env.clone());
                }
                (Change::All, _) => signing = None,
                _ => {}
            }
            state.changes.publish(change);
        }
        if signing.as_ref().is_none_or(|envs| !envs.is_empty()) {
            reload_signing_keys(state, signing).await;
        }
        state.status.last_change.store(last, Ordering::SeqCst);
        if records.len() < 500 {
            return Ok(());
        }
    }
}

/// Writes `key.expiring` for keys expiring within `KEYMINT_KEY_EXPIRY_WARNING_DAYS`, once
/// per key (a key created inside the period is warned about at the next scan).
pub async fn warn_expiring(state: &SyncTask) -> Result<(), StoreError> {
    let now = state.clock.now();
    for key in state
        .store
        .warn_expiring(now, now + state.expiry_warning)
        .await?
    {
        tracing::info!(client_id = %key.client_id, env = %key.environment, "api key expiring soon: key.expiring written");
    }
    Ok(())
}

/// Disables keys that reached their expiry, so listings and the audit trail show it.
async fn expire_keys(state: &SyncTask) -> Result<(), StoreError> {
    for key in state.store.expire_keys(state.clock.now()).await? {
        tracing::info!(client_id = %key.client_id, env = %key.environment, "api key expired");
        state.changes.publish(Change::Key(key.client_id));
    }
    Ok(())
}

/// Runs the rotations that are due, then re-applies the schedule (keys becoming active
/// or retired as time passes).
pub async fn refresh_signing_keys(state: &SyncTask) {
    let now = state.clock.now();
    let due = state.rotation.every_days.is_some_and(|days| {
        let age = time::Duration::days(i64::try_from(days).unwrap_or(i64::MAX / 86_400));
        state.keys.environments().iter().any(|(env, _)| {
            state
                .keys
                .newest_created(env)
                .is_none_or(|c| now - c >= age)
        })
    });
    if due {
        let ctx = WriteContext {
            now,
            actor: Actor::system(ChangeSource::Schedule),
            request_id: None,
        };
        if let Err(e) = crate::signing::rotate_due(&state.keys, state.rotation, &ctx).await {
            tracing::warn!(error = %e, "scheduled signing-key rotation failed; will retry");
        }
    }
    state.keys.apply_schedule(now);
}

/// Re-reads the signing keys of `envs` (all when `None`), after the change feed said they
/// changed. A key that does not open is logged; the keys in use stay.
async fn reload_signing_keys(state: &SyncTask, envs: Option<Vec<EnvironmentName>>) {
    let now = state.clock.now();
    let envs = envs.unwrap_or_else(|| {
        state
            .keys
            .environments()
            .iter()
            .map(|(env, _)| env.clone())
            .collect()
    });
    for env in envs {
        if let Err(e) = state.keys.reload(&env, now).await {
            state
                .status
                .signing_key_reload_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(env = %env, error = %e, "reloading signing keys failed; keeping the current ones");
        }
    }
}

/// Writes pending last-use times; keeps them for the next try if the write fails.
pub async fn flush_usage(state: &SyncTask) {
    let uses = state.usage.drain();
    if uses.is_empty() {
        return;
    }
    if let Err(e) = within(state.store.record_last_used(&uses)).await {
        tracing::warn!(error = %e, "writing last-use times failed; will retry");
        state.usage.restore(uses);
    }
}

//! The status lists this instance serves: one [`Ledger`] per environment, kept current
//! by the change feed, rendered and signed when a reader asks after something changed.
//!
//! - The change feed notes what changed (a key, a user's keys, everything); nothing is
//!   read then, so a flood of changes costs a set insert each, and the token path never
//!   touches any of this.
//! - A request for a list serves the signed list from memory while it is current: no
//!   change noted since, no bit due to flip with time (an expiry, a grace period's end),
//!   and younger than half its `ttl` (so its `iat` stays recent).
//! - Otherwise one request per environment (the others wait for it) reads what changed —
//!   the counter, the keys created since the last read, each key and user noted — applies
//!   it, renders and signs. The first request, a lagged feed and a failed read load every
//!   key of the environment, 65,536 indexes per query. A build runs in its own task, so
//!   a first load longer than a request's deadline (seconds, at a million keys) is
//!   finished for the next request, not thrown away.
//! - Past `KEYMINT_MAX_STALENESS` without confirming the feed, memory may miss a disable:
//!   the list answers 503 and readers keep their copy until their own bound.

use axum::body::Bytes;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::encode::{self, ListToken};
use super::ledger::Ledger;
use crate::changes::{Change, ChangeFeed};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{ClientId, EnvironmentName, UserId};
use crate::signing::KeyRing;
use crate::store::{StatusScope, Store, StoreError};

/// How long after `iat` a list token expires (`exp`): readers that cannot refresh stop
/// trusting it then, whatever their own bound.
pub const LIST_LIFETIME: i64 = 600;
/// Past this many keys or users noted, the next build reloads the environment instead.
const MAX_NOTED: usize = 4096;
/// Indexes read per query of a full load.
const PAGE: u32 = 65_536;

/// Why a list cannot be served.
#[derive(Debug, PartialEq, Eq)]
pub enum ListError {
    /// No such environment or list.
    NotFound,
    /// The store cannot be read, or the change feed is not confirmed: try again.
    Unavailable,
}

#[derive(Default)]
struct Noted {
    everything: bool,
    keys: HashSet<ClientId>,
    owners: HashSet<UserId>,
}

struct Published {
    lists: Vec<Bytes>,
    /// Served while `now < fresh_until` and nothing is noted.
    fresh_until: i64,
}

struct EnvLists {
    name: EnvironmentName,
    issuer: String,
    /// Set once a build starts: changes before the first load need no noting.
    loaded: AtomicBool,
    dirty: AtomicBool,
    noted: Mutex<Noted>,
    published: RwLock<Option<Arc<Published>>>,
    /// Held by the one build in progress.
    ledger: tokio::sync::Mutex<Option<Ledger>>,
}

impl EnvLists {
    fn note(&self, change: &Change) {
        if !self.loaded.load(Ordering::SeqCst) {
            return;
        }
        let mut noted = self.noted.lock().unwrap_or_else(|e| e.into_inner());
        match change {
            Change::Key(id) => {
                noted.keys.insert(id.clone());
            }
            Change::User(id) => {
                noted.owners.insert(id.clone());
            }
            // A new signing key: re-sign at the next request.
            Change::SigningKeys(env) if *env != self.name => return,
            Change::SigningKeys(_) => {}
            Change::Token(_) => return,
            Change::All => noted.everything = true,
        }
        if noted.keys.len() + noted.owners.len() > MAX_NOTED {
            *noted = Noted {
                everything: true,
                ..Noted::default()
            };
        }
        self.dirty.store(true, Ordering::SeqCst);
    }

    fn take_noted(&self) -> Noted {
        let mut noted = self.noted.lock().unwrap_or_else(|e| e.into_inner());
        self.dirty.store(false, Ordering::SeqCst);
        std::mem::take(&mut *noted)
    }

    fn current(&self, now: i64) -> Option<Arc<Published>> {
        if self.dirty.load(Ordering::SeqCst) {
            return None;
        }
        let published = self.published.read().unwrap_or_else(|e| e.into_inner());
        published.as_ref().filter(|p| now < p.fresh_until).cloned()
    }
}

/// Counters for `/metrics` and the benchmark.
#[derive(Debug, Default)]
pub struct ListStats {
    /// Builds (render and sign) so far.
    pub builds: AtomicU64,
    /// Microseconds the last render and sign took.
    pub last_build_us: AtomicU64,
    /// Bytes of the last list token signed.
    pub last_token_bytes: AtomicU64,
}

/// See the module documentation.
pub struct StatusLists {
    store: Arc<dyn Store>,
    keys: Arc<KeyRing>,
    changes: Arc<ChangeFeed>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    envs: HashMap<EnvironmentName, Arc<EnvLists>>,
    stats: ListStats,
}

impl StatusLists {
    /// The lists of every configured environment, following `changes`.
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        keys: Arc<KeyRing>,
        changes: Arc<ChangeFeed>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        let envs = config
            .environments
            .iter()
            .map(|e| {
                let lists = EnvLists {
                    name: e.name.clone(),
                    issuer: config.issuer(&e.name),
                    loaded: AtomicBool::new(false),
                    dirty: AtomicBool::new(false),
                    noted: Mutex::default(),
                    published: RwLock::default(),
                    ledger: tokio::sync::Mutex::default(),
                };
                (e.name.clone(), Arc::new(lists))
            })
            .collect();
        let lists = Arc::new(Self {
            store,
            keys,
            changes: Arc::clone(&changes),
            clock,
            ttl: config.status_list_ttl,
            envs,
            stats: ListStats::default(),
        });
        let follower = Arc::downgrade(&lists);
        changes.on_change(crate::changes::Tier::Derived, move |change| {
            if let Some(lists) = follower.upgrade() {
                for env in lists.envs.values() {
                    env.note(change);
                }
            }
        });
        lists
    }

    /// Counters.
    pub fn stats(&self) -> &ListStats {
        &self.stats
    }

    /// The `ttl` lists carry.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The signed list `n` (from 1) of environment `env` (a shared buffer: serving it copies
    /// nothing).
    pub async fn list(self: &Arc<Self>, env: &str, n: usize) -> Result<Bytes, ListError> {
        let lists = EnvironmentName::parse(env)
            .ok()
            .and_then(|name| self.envs.get(&name))
            .ok_or(ListError::NotFound)?;
        if !self.changes.trusted() {
            return Err(ListError::Unavailable);
        }
        let pick = |p: &Published| {
            n.checked_sub(1)
                .and_then(|i| p.lists.get(i))
                .cloned()
                .ok_or(ListError::NotFound)
        };
        if let Some(published) = lists.current(self.clock.now().unix_timestamp()) {
            return pick(&published);
        }
        // The build runs in its own task: a first read of a million keys may outlast this
        // request's deadline, and is not thrown away with it.
        let (this, lists) = (Arc::clone(self), Arc::clone(lists));
        let build = tokio::spawn(async move {
            let mut ledger = lists.ledger.lock().await;
            // Another request may have built while this one waited.
            if let Some(published) = lists.current(this.clock.now().unix_timestamp()) {
                return Ok(published);
            }
            this.build(&lists, &mut ledger).await
        });
        let published = build.await.map_err(|_| ListError::Unavailable)??;
        pick(&published)
    }

    async fn build(
        &self,
        lists: &EnvLists,
        ledger: &mut Option<Ledger>,
    ) -> Result<Arc<Published>, ListError> {
        lists.loaded.store(true, Ordering::SeqCst);
        let noted = lists.take_noted();
        if let Err(e) = self.read(lists, ledger, noted).await {
            // What was noted is lost with the failed read: load everything next time.
            tracing::warn!(error = %e, env = %lists.name, "reading the status list failed");
            *ledger = None;
            return Err(ListError::Unavailable);
        }
        let keys = self.keys.get(&lists.name).ok_or(ListError::Unavailable)?;
        let held = ledger.take().unwrap_or_default();
        let (now, ttl, issuer) = (
            self.clock.now().unix_timestamp(),
            self.ttl.as_secs(),
            lists.issuer.clone(),
        );
        let started = Instant::now();
        // Rendering a million statuses and compressing them is milliseconds of CPU: off
        // the async workers.
        let (held, signed) = tokio::task::spawn_blocking(move || {
            let rendered = held.render(now);
            let signed: Result<Vec<Bytes>, _> = (1..=rendered.lists())
                .map(|n| {
                    let uri = encode::list_uri(&issuer, u32::try_from(n).unwrap_or(u32::MAX));
                    let token = ListToken {
                        issuer: &issuer,
                        uri: &uri,
                        iat: now,
                        exp: now + LIST_LIFETIME,
                        ttl,
                    };
                    let bytes = rendered.list(n).unwrap_or_default();
                    encode::sign(&keys.active, &token, bytes).map(Bytes::from)
                })
                .collect();
            (held, signed.map(|s| (s, rendered.next_change)))
        })
        .await
        .map_err(|_| ListError::Unavailable)?;
        *ledger = Some(held);
        let (signed, next_change) = signed.map_err(|_| ListError::Unavailable)?;
        self.stats.builds.fetch_add(1, Ordering::Relaxed);
        self.stats.last_build_us.store(
            u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let bytes = signed.iter().map(|s| s.len() as u64).max().unwrap_or(0);
        self.stats.last_token_bytes.store(bytes, Ordering::Relaxed);
        let half_ttl = i64::try_from(ttl / 2).unwrap_or(30).max(1);
        let published = Arc::new(Published {
            lists: signed,
            fresh_until: (now + half_ttl).min(next_change.unwrap_or(i64::MAX)),
        });
        *lists.published.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&published));
        Ok(published)
    }

    /// Every key of `env`, in pages of [`PAGE`] indexes after one counter read.
    async fn load(&self, env: &EnvironmentName) -> Result<Ledger, StoreError> {
        let first = self
            .store
            .status_snapshot(env, StatusScope::Range(0, PAGE))
            .await?;
        let next = first.next_index;
        let mut ledger = Ledger::default();
        ledger.extend(first.entries);
        let mut from = PAGE;
        while from < next {
            let to = from.saturating_add(PAGE);
            let page = self
                .store
                .status_snapshot(env, StatusScope::Range(from, to))
                .await?;
            ledger.extend(page.entries);
            from = to;
        }
        ledger.raise_floor(next);
        Ok(ledger)
    }

    /// Brings `ledger` up to date with the store: everything, or what was noted and the
    /// keys created since the last read.
    async fn read(
        &self,
        lists: &EnvLists,
        ledger: &mut Option<Ledger>,
        noted: Noted,
    ) -> Result<(), StoreError> {
        let env = &lists.name;
        let held = match ledger.as_mut() {
            Some(held) if !noted.everything => held,
            _ => {
                *ledger = Some(self.load(env).await?);
                return Ok(());
            }
        };
        let mut snapshot = self
            .store
            .status_snapshot(env, StatusScope::From(held.floor()))
            .await?;
        let mut gone = Vec::new();
        for key in &noted.keys {
            let read = self
                .store
                .status_snapshot(env, StatusScope::Key(key))
                .await?;
            if read.entries.is_empty() {
                gone.push(key.clone());
            }
            snapshot.entries.extend(read.entries);
        }
        for owner in &noted.owners {
            let read = self
                .store
                .status_snapshot(env, StatusScope::Owner(owner))
                .await?;
            snapshot.entries.extend(read.entries);
        }
        held.apply(snapshot, &gone);
        Ok(())
    }
}

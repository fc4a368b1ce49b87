//! The change feed: the one way every instance learns that a key or user changed, so
//! whatever it keeps in memory can be dropped.
//!
//! Every store write appends `keymint_changes` rows in its own transaction. Each
//! instance follows that table (woken by NOTIFY on PostgreSQL, polled every 100 ms on
//! SQLite) and publishes here; changes made in this process are also published at once.
//! Subscribers must treat `Change::All` — and a lagged receiver — as "forget everything".

use std::fmt;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::broadcast;

mod cache;
mod freshness;

pub use cache::{Concern, ShardedCache};
pub use freshness::Freshness;

use crate::domain::{ClientId, EnvironmentName, UserId};

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A key (any field, including deletion).
    Key(ClientId),
    /// A user (profile, permissions, activity).
    User(UserId),
    /// The signing keys of an environment (a key created, rotated in or imported).
    SigningKeys(EnvironmentName),
    /// An access token revoked (its `jti`).
    Token(String),
    /// Unknown: something may have been missed (e.g. after a reconnect).
    All,
}

impl Change {
    /// Reads a change-feed row back.
    pub fn from_record(kind: &str, subject: &str) -> Self {
        match kind {
            "key" => Self::Key(ClientId::new(subject.to_owned())),
            "user" => UserId::parse(subject).map_or(Self::All, Self::User),
            "signing_key" => EnvironmentName::parse(subject).map_or(Self::All, Self::SigningKeys),
            "token" => Self::Token(subject.to_owned()),
            _ => Self::All,
        }
    }
}

type Listener = Box<dyn Fn(&Change) + Send + Sync>;

/// Where a listener runs in [`ChangeFeed::publish`]. Readers take the generation before
/// their reads and insert only if it has not moved, so each layer of memory is emptied
/// only after a move that every reader of stale state will see:
/// 1. [`Tier::Source`]: what answers reads directly and only grows (the revocation list
///    adds a jti); updated before anything else, so a reader that starts later sees it.
/// 2. the generation moves;
/// 3. [`Tier::Held`]: caches that other caches are filled from (key states);
/// 4. the generation moves again, so an insert made from a held entry read before step 3
///    is refused;
/// 5. [`Tier::Derived`]: caches filled from the layers above or the database (verified
///    secrets, verified tokens).
///
/// With one move before every listener, a reader between two listeners could read a
/// source not yet updated after a cache was emptied, and cache a stale "active" answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Updated first, before the generation moves.
    Source,
    /// Emptied between the two moves.
    Held,
    /// Emptied last.
    Derived,
}

const TIERS: [Tier; 3] = [Tier::Source, Tier::Held, Tier::Derived];

/// In-process fan-out of [`Change`]s: synchronous listeners (caches) and a broadcast
/// channel (anything that prefers to await).
pub struct ChangeFeed {
    sender: broadcast::Sender<Change>,
    generation: AtomicU64,
    published: AtomicU64,
    listeners: RwLock<Vec<(Tier, Listener)>>,
    freshness: Freshness,
    /// Tests only: runs at every step of [`Self::publish`], to interleave a reader.
    step: RwLock<Option<Box<dyn Fn() + Send + Sync>>>,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_STALENESS)
    }
}

impl fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

/// `KEYMINT_MAX_STALENESS` when unset.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(10);

impl ChangeFeed {
    /// A feed whose followers trust memory for at most `max_staleness` past their last
    /// confirmation (see [`Freshness`]).
    pub fn new(max_staleness: Duration) -> Self {
        Self {
            sender: broadcast::channel(4096).0,
            generation: AtomicU64::new(0),
            published: AtomicU64::new(0),
            listeners: RwLock::new(Vec::new()),
            freshness: Freshness::new(max_staleness),
            step: RwLock::new(None),
        }
    }

    /// Publishes a change to every subscriber of this process, tier by tier (see
    /// [`Tier`]).
    pub fn publish(&self, change: Change) {
        let listeners = self.listeners.read().unwrap_or_else(|e| e.into_inner());
        let step = self.step.read().unwrap_or_else(|e| e.into_inner());
        let step = || {
            if let Some(step) = step.as_ref() {
                step();
            }
        };
        step();
        for tier in TIERS {
            if tier != Tier::Source {
                self.generation.fetch_add(1, Ordering::SeqCst);
                step();
            }
            for (_, listener) in listeners.iter().filter(|(t, _)| *t == tier) {
                listener(&change);
                step();
            }
        }
        self.published.fetch_add(1, Ordering::Relaxed);
        let _ = self.sender.send(change);
    }

    /// Changes published so far.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Whether what this instance holds in memory may decide requests now: the feed was
    /// confirmed within `KEYMINT_MAX_STALENESS`.
    pub fn trusted(&self) -> bool {
        self.freshness.trusted()
    }

    /// The confirmation clock the sync task keeps.
    pub fn freshness(&self) -> &Freshness {
        &self.freshness
    }

    /// Tests only: `step` runs between every two steps of each later [`Self::publish`].
    #[doc(hidden)]
    pub fn interleave(&self, step: impl Fn() + Send + Sync + 'static) {
        *self.step.write().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(step));
    }

    /// Calls `listener` synchronously, in `tier`, for every change published from now on.
    pub fn on_change(&self, tier: Tier, listener: impl Fn(&Change) + Send + Sync + 'static) {
        self.listeners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((tier, Box::new(listener)));
    }

    /// A receiver of every change published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }

    /// Increases with every published change: compare before and after a slow step to
    /// learn whether anything changed meanwhile.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

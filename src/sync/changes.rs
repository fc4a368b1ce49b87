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
use tokio::sync::broadcast;

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

/// In-process fan-out of [`Change`]s: synchronous listeners (caches) and a broadcast
/// channel (anything that prefers to await).
pub struct ChangeFeed {
    sender: broadcast::Sender<Change>,
    generation: AtomicU64,
    listeners: RwLock<Vec<Listener>>,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(4096).0,
            generation: AtomicU64::new(0),
            listeners: RwLock::new(Vec::new()),
        }
    }
}

impl fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeFeed")
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl ChangeFeed {
    /// Publishes a change to every subscriber of this process. The generation moves
    /// first, then listeners run, so a cache can refuse inserts of state read before it.
    pub fn publish(&self, change: Change) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        for listener in self
            .listeners
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            listener(&change);
        }
        let _ = self.sender.send(change);
    }

    /// Calls `listener` synchronously for every change published from now on.
    pub fn on_change(&self, listener: impl Fn(&Change) + Send + Sync + 'static) {
        self.listeners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(listener));
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

//! What the token status list reads from the store: each key's credentials' indexes and
//! whether they may still mint tokens.

use time::OffsetDateTime;

use crate::domain::{ClientId, UserId};

/// Which keys of an environment to read.
#[derive(Debug, Clone, Copy)]
pub enum StatusScope<'a> {
    /// Every key.
    All,
    /// Keys whose current index is in `[from, to)`: a full read in pages, so a million
    /// keys never sit in memory as rows at once.
    Range(u32, u32),
    /// Keys whose current index is at least this (created or rotated since).
    From(u32),
    /// One key.
    Key(&'a ClientId),
    /// The keys of one owner.
    Owner(&'a UserId),
}

/// One key's standing in its environment's status list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// The key.
    pub client_id: ClientId,
    /// Its current credential's index.
    pub index: u32,
    /// The previous secret's index and the end of its grace period.
    pub previous: Option<(u32, OffsetDateTime)>,
    /// Enabled, and its owner active.
    pub usable: bool,
    /// The key's expiry.
    pub expires_at: Option<OffsetDateTime>,
}

/// An environment's allocation counter and the entries read after it: every index below
/// `next_index` belongs to a key committed before the read (or deleted since).
#[derive(Debug, Clone, Default)]
pub struct StatusSnapshot {
    /// The next index to be allocated.
    pub next_index: u32,
    /// The keys read.
    pub entries: Vec<StatusEntry>,
}

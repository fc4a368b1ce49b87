//! User-lifecycle events: the signed webhook, the PostgreSQL table, and the background
//! task that applies table rows and follows the change feed.

mod signature;
mod sync;
mod webhook;

pub use signature::{SignatureError, WebhookSecret, sign, verify};
pub use sync::{SyncStatus, catch_up, flush_usage, refresh_signing_keys, run};
pub use webhook::user_events;

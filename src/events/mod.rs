//! User-lifecycle events from the directory: the signed webhook (Standard Webhooks).
//! Rows of the PostgreSQL table are applied by [`crate::sync`]. And the other way: key
//! lifecycle events delivered from the outbox to the organisation's endpoint.

pub mod delivery;
mod signature;
mod webhook;

pub use signature::{SignatureError, WebhookSecret, sign, verify};
pub use webhook::{WebhookState, user_events};

//! `KEYMINT_EVENTS_URL`, `KEYMINT_EVENTS_SECRET` and `KEYMINT_KEY_EXPIRY_WARNING_DAYS`:
//! where lifecycle events go, how they are signed, and how early an expiry is announced.

use super::{ConfigError, invalid};
use crate::events::WebhookSecret;

/// Default of `KEYMINT_KEY_EXPIRY_WARNING_DAYS`.
pub const DEFAULT_WARNING_DAYS: u32 = 7;

/// Where lifecycle events are delivered. `Debug` leaves the secret out.
#[derive(Clone)]
pub struct EventsConfig {
    /// The organisation's endpoint (https; http only on loopback).
    pub url: String,
    /// The Standard Webhooks secret the events are signed with.
    pub secret: WebhookSecret,
}

impl std::fmt::Debug for EventsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventsConfig")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Both variables or neither.
pub(super) fn events(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<EventsConfig>, ConfigError> {
    match (get("KEYMINT_EVENTS_URL"), get("KEYMINT_EVENTS_SECRET")) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(invalid(
            "KEYMINT_EVENTS_SECRET",
            "is required with KEYMINT_EVENTS_URL (whsec_ followed by base64)",
        )),
        (None, Some(_)) => Err(invalid(
            "KEYMINT_EVENTS_URL",
            "is required with KEYMINT_EVENTS_SECRET",
        )),
        (Some(url), Some(secret)) => {
            let loopback_http =
                url.starts_with("http://") && crate::verifier::jwks::is_loopback_url(&url);
            if !(url.starts_with("https://") || loopback_http) || reqwest::Url::parse(&url).is_err()
            {
                return Err(invalid(
                    "KEYMINT_EVENTS_URL",
                    format!("{url} must be an https:// URL (plain http only on loopback)"),
                ));
            }
            let secret = WebhookSecret::parse(&secret).ok_or_else(|| {
                invalid(
                    "KEYMINT_EVENTS_SECRET",
                    "must be whsec_ followed by base64 (Standard Webhooks)",
                )
            })?;
            Ok(Some(EventsConfig { url, secret }))
        }
    }
}

/// `KEYMINT_KEY_EXPIRY_WARNING_DAYS`: 1 to 365.
pub(super) fn warning_days(get: &dyn Fn(&str) -> Option<String>) -> Result<u32, ConfigError> {
    match get("KEYMINT_KEY_EXPIRY_WARNING_DAYS") {
        None => Ok(DEFAULT_WARNING_DAYS),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| {
                invalid(
                    "KEYMINT_KEY_EXPIRY_WARNING_DAYS",
                    format!("{v:?} is not a number of days from 1 to 365"),
                )
            }),
    }
}

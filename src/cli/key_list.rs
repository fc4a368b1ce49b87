//! `keymint keys list`: reading every key of an environment, and showing them as an
//! aligned table or JSON.

use serde_json::json;

use crate::clock::rfc3339;
use crate::domain::{ApiKey, UserId};
use crate::manage::Management;
use crate::store::KeyQuery;

/// A key's state, for `keys list --status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyStatus {
    /// Enabled and not past its expiry.
    Enabled,
    /// Disabled (by hand, by the owner's deactivation, or by expiry).
    Disabled,
    /// Past its expiry.
    Expired,
}

impl KeyStatus {
    pub(super) fn of(key: &ApiKey, now: time::OffsetDateTime) -> Self {
        if key.is_expired(now) {
            Self::Expired
        } else if key.enabled {
            Self::Enabled
        } else {
            Self::Disabled
        }
    }
}

/// The keys as a table: client id, owner, status, created, expires, last used, the
/// address of last use, name, permissions.
pub(super) fn print_keys(keys: &[ApiKey], now: time::OffsetDateTime) {
    let day = |t: Option<time::OffsetDateTime>| {
        t.map_or_else(|| "-".to_owned(), |t| rfc3339(t).chars().take(16).collect())
    };
    let header = [
        "client id",
        "owner",
        "status",
        "created",
        "expires",
        "last used",
        "from",
        "name",
        "permissions",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 9]> = keys
        .iter()
        .map(|key| {
            let status = match (KeyStatus::of(key, now), key.disabled_reason) {
                (KeyStatus::Enabled, _) => "enabled".to_owned(),
                (KeyStatus::Expired, _) => "expired".to_owned(),
                (KeyStatus::Disabled, Some(reason)) => format!("disabled ({})", reason.as_str()),
                (KeyStatus::Disabled, None) => "disabled".to_owned(),
            };
            [
                key.client_id.as_str().to_owned(),
                key.owner_id.as_str().to_owned(),
                status,
                day(Some(key.created_at)),
                day(key.expires_at),
                day(key.last_used_at),
                key.last_used_ip
                    .map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
                key.name.as_deref().unwrap_or("-").to_owned(),
                format!("[{}]", key.permissions),
            ]
        })
        .collect();
    // Each column as wide as its widest value, whatever the statuses and names.
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", cells.join(" ").trim_end());
    }
    println!("{} key(s)", keys.len());
}

pub(super) async fn list_all(
    manage: &Management,
    environment: crate::domain::EnvironmentName,
    owner: Option<UserId>,
) -> anyhow::Result<Vec<ApiKey>> {
    let mut keys = Vec::new();
    let mut after = None;
    loop {
        let page = manage
            .store()
            .list_keys(&KeyQuery {
                environment: environment.clone(),
                owner: owner.clone(),
                after,
                limit: 500,
            })
            .await?;
        after = page.entries.last().map(|(cursor, _)| *cursor);
        keys.extend(page.entries.into_iter().map(|(_, key)| key));
        if !page.has_next_page {
            return Ok(keys);
        }
    }
}

pub(super) fn key_json(key: &ApiKey) -> serde_json::Value {
    json!({
        "id": key.id,
        "clientId": key.client_id.as_str(),
        "name": key.name,
        "environment": key.environment.as_str(),
        "ownerId": key.owner_id.as_str(),
        "permissions": key.permissions,
        "enabled": key.enabled,
        "disabledReason": key.disabled_reason.map(|r| r.as_str()),
        "expiresAt": key.expires_at.map(rfc3339),
        "lastUsedAt": key.last_used_at.map(rfc3339),
        "lastUsedIp": key.last_used_ip.map(|ip| ip.to_string()),
        "allowedIps": key.allowed_ips.to_strings(),
        "secretHint": key.secret_hint,
        "tokenEndpointAuthMethod": key.auth.token_endpoint_auth_method(),
        "jwksUri": key.auth.jwks_uri(),
        "federation": key.auth.federation(),
        "createdAt": rfc3339(key.created_at),
        "updatedAt": rfc3339(key.updated_at),
        "_etag": key.etag,
    })
}

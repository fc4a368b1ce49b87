//! `keymint keys create|list|update|disable|enable|delete|rotate-secret|set-jwks`.

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use super::key_auth::ClientKeysArgs;
use super::key_list::{KeyStatus, key_json, list_all, print_keys};
use super::served_environment;
use crate::clock::rfc3339;
use crate::config::Config;
use crate::domain::{AllowedIps, ApiKey, ClientId, KeyAuth, KeyEdit, Permissions, UserId};
use crate::manage::{CreateKey, KeyChangeRequest, MAX_GRACE_SECS, ManageError, Management};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key holding the owner's current permissions (or a subset).
    Create {
        /// Owner's user id.
        #[arg(long)]
        user: String,
        /// Environment of the key.
        #[arg(long)]
        env: String,
        /// Label.
        #[arg(long)]
        name: Option<String>,
        /// Narrow the key to this permission (repeat for several).
        #[arg(long = "permission", value_name = "P")]
        permissions: Vec<String>,
        /// Expiry, RFC 3339 (e.g. 2027-01-31T00:00:00Z).
        #[arg(long)]
        expires_at: Option<String>,
        #[command(flatten)]
        client_keys: ClientKeysArgs,
        /// Accept token requests only from this network (CIDR or address, IPv4 or IPv6;
        /// repeat for several). Default: any address.
        #[arg(long = "allowed-ip", value_name = "CIDR")]
        allowed_ips: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace the public keys of a key whose clients sign with their own keys
    /// (private_key_jwt).
    SetJwks {
        /// Client id.
        client_id: String,
        #[command(flatten)]
        client_keys: ClientKeysArgs,
    },
    /// List the keys of an environment (never their secrets).
    List {
        /// Environment.
        #[arg(long)]
        env: String,
        /// Only the keys of this user.
        #[arg(long)]
        user: Option<String>,
        /// Only keys in this state.
        #[arg(long, value_enum)]
        status: Option<KeyStatus>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable a key: it mints no more tokens.
    Disable {
        /// Client id.
        client_id: String,
    },
    /// Enable a key (refused while its owner is inactive).
    Enable {
        /// Client id.
        client_id: String,
    },
    /// Delete a key.
    Delete {
        /// Client id.
        client_id: String,
    },
    /// Rename a key, move its expiry (an expired key keeps its own) or set the networks
    /// its token requests may come from.
    Update {
        /// Client id.
        client_id: String,
        /// New label.
        #[arg(long, conflicts_with = "no_name")]
        name: Option<String>,
        /// Remove the label.
        #[arg(long)]
        no_name: bool,
        /// New expiry: a date (midnight UTC) or an RFC 3339 date-time, in the future.
        #[arg(long, conflicts_with = "no_expiry")]
        expires_at: Option<String>,
        /// Never expire.
        #[arg(long)]
        no_expiry: bool,
        /// Accept token requests only from these networks (repeat; replaces the list).
        #[arg(long = "allowed-ip", value_name = "CIDR", conflicts_with = "any_ip")]
        allowed_ips: Vec<String>,
        /// Accept token requests from any address (removes the list).
        #[arg(long)]
        any_ip: bool,
    },
    /// Replace a key's secret; the old secret stops working at once, or after --grace-seconds.
    RotateSecret {
        /// Client id.
        client_id: String,
        /// Keep accepting the old secret this many seconds (at most 86400).
        #[arg(long = "grace-seconds", value_name = "SECONDS")]
        grace_seconds: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cmd: KeysCommand, config: &Config, manage: &Management) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Create {
            user,
            env,
            name,
            permissions,
            expires_at,
            client_keys,
            allowed_ips,
            json,
        } => {
            let expires_at = expires_at.map(|s| expiry(&s)).transpose()?;
            let allowed_ips = AllowedIps::parse(&allowed_ips)
                .map_err(|e| anyhow::anyhow!("invalid --allowed-ip: {e}"))?;
            let auth = client_keys
                .key_auth(&config.outbound_hosts)?
                .unwrap_or(KeyAuth::Secret);
            let request = CreateKey {
                owner_id: UserId::parse(&user).context("invalid --user")?,
                environment: served_environment(config, &env)?,
                permissions: if permissions.is_empty() {
                    None
                } else {
                    Some(Permissions::parse(&permissions)?)
                },
                name,
                expires_at,
                auth,
                allowed_ips,
            };
            let owner = request.owner_id.clone();
            let created = manage
                .create_key(request)
                .await
                .map_err(|e| named(e, &format!("user {:?}", owner.as_str())))?;
            let key = &created.key;
            let secret = created.secret.as_ref().map(|s| s.expose());
            if json {
                let mut out = json!({
                    "id": key.id,
                    "clientId": key.client_id.as_str(),
                    "clientSecret": secret,
                    "environment": key.environment.as_str(),
                    "permissions": key.permissions,
                });
                // The contract's shape for a key with a secret stays as it was; a key
                // without one says how its clients authenticate.
                if !key.auth.has_secret() {
                    out["tokenEndpointAuthMethod"] = key.auth.token_endpoint_auth_method().into();
                }
                println!("{out}");
            } else {
                println!("clientId:     {}", key.client_id);
                if let Some(secret) = secret {
                    println!("clientSecret: {secret}");
                }
                println!("environment:  {}", key.environment);
                println!("permissions:  [{}]", key.permissions);
                if !key.allowed_ips.is_any() {
                    println!("allowed from: {}", key.allowed_ips.to_strings().join(", "));
                }
                match secret {
                    Some(secret) => {
                        println!("The secret is shown only now; store it safely.");
                        println!();
                        println!("Get an access token with it:");
                        println!(
                            "  curl -s -u '{}:{secret}' -d grant_type=client_credentials {}/oauth2/token",
                            key.client_id,
                            config.issuer(&key.environment)
                        );
                    }
                    None => match key.auth.federation() {
                        Some(rule) => println!(
                            "No secret: clients send a token of {} as their client assertion, with client_id={}.",
                            rule.issuer, key.client_id
                        ),
                        None => println!(
                            "No secret: clients sign an assertion with their own key (private_key_jwt; iss = sub = the client id, aud = {}).",
                            config.issuer(&key.environment)
                        ),
                    },
                }
            }
        }
        KeysCommand::List {
            env,
            user,
            status,
            json,
        } => {
            let environment = served_environment(config, &env)?;
            let owner = user
                .as_deref()
                .map(|u| UserId::parse(u).context("invalid --user"))
                .transpose()?;
            let now = manage.now();
            let keys: Vec<ApiKey> = list_all(manage, environment, owner)
                .await?
                .into_iter()
                .filter(|k| status.is_none_or(|s| KeyStatus::of(k, now) == s))
                .collect();
            if json {
                println!(
                    "{}",
                    serde_json::Value::Array(keys.iter().map(key_json).collect())
                );
            } else {
                print_keys(&keys, now);
            }
        }
        KeysCommand::Disable { client_id } => {
            manage
                .set_key_enabled(&ClientId::new(client_id.clone()), false, None)
                .await
                .map_err(|e| named(e, &format!("key {client_id}")))?;
            println!("key {client_id} disabled");
        }
        KeysCommand::Enable { client_id } => {
            manage
                .set_key_enabled(&ClientId::new(client_id.clone()), true, None)
                .await
                .map_err(|e| named(e, &format!("key {client_id}")))?;
            println!("key {client_id} enabled");
        }
        KeysCommand::Delete { client_id } => {
            manage
                .delete_key(&ClientId::new(client_id.clone()), None)
                .await
                .map_err(|e| named(e, &format!("key {client_id}")))?;
            println!("key {client_id} deleted");
        }
        KeysCommand::Update {
            client_id,
            name,
            no_name,
            expires_at,
            no_expiry,
            allowed_ips,
            any_ip,
        } => {
            let edit = KeyEdit {
                name: if no_name { Some(None) } else { name.map(Some) },
                expires_at: match (no_expiry, expires_at) {
                    (true, _) => Some(None),
                    (false, Some(at)) => Some(Some(expiry(&at)?)),
                    (false, None) => None,
                },
                client_keys: None,
                allowed_ips: match (any_ip, allowed_ips.is_empty()) {
                    (true, _) => Some(AllowedIps::any()),
                    (false, false) => Some(
                        AllowedIps::parse(&allowed_ips)
                            .map_err(|e| anyhow::anyhow!("invalid --allowed-ip: {e}"))?,
                    ),
                    (false, true) => None,
                },
            };
            if edit.is_empty() {
                anyhow::bail!(
                    "nothing to change: give --name, --no-name, --expires-at, --no-expiry, --allowed-ip or --any-ip"
                );
            }
            let change = KeyChangeRequest {
                edit,
                ..KeyChangeRequest::default()
            };
            let updated = manage
                .update_key(&ClientId::new(client_id.clone()), change, None)
                .await
                .map_err(|e| named(e, &format!("key {client_id}")))?;
            let key = updated.key;
            println!(
                "key {client_id} updated: name {}, expires {}, allowed from {}",
                key.name
                    .as_deref()
                    .map_or("(none)".into(), |n| format!("{n:?}")),
                key.expires_at.map_or("never".into(), rfc3339),
                if key.allowed_ips.is_any() {
                    "any address".to_owned()
                } else {
                    key.allowed_ips.to_strings().join(", ")
                }
            );
        }
        KeysCommand::SetJwks {
            client_id,
            client_keys,
        } => {
            let Some(auth) = client_keys.key_auth(&config.outbound_hosts)? else {
                anyhow::bail!("give --jwks-uri URL or --jwks-file PATH");
            };
            let change = KeyChangeRequest {
                edit: KeyEdit {
                    client_keys: Some(auth),
                    ..KeyEdit::default()
                },
                ..KeyChangeRequest::default()
            };
            let updated = manage
                .update_key(&ClientId::new(client_id.clone()), change, None)
                .await
                .map_err(|e| named(e, &format!("key {client_id}")))?;
            match updated.key.auth.jwks_uri() {
                Some(url) => println!("key {client_id} now trusts the keys published at {url}"),
                None => println!("key {client_id} now trusts the keys in the file given"),
            }
        }
        KeysCommand::RotateSecret {
            client_id,
            grace_seconds,
            json,
        } => {
            if grace_seconds.is_some_and(|g| !(0..=MAX_GRACE_SECS).contains(&g)) {
                anyhow::bail!("--grace-seconds must be from 0 to {MAX_GRACE_SECS} (one day)");
            }
            let grace = grace_seconds.map(time::Duration::seconds);
            let rotated = manage
                .rotate_secret(&ClientId::new(client_id.clone()), None, grace)
                .await
                .map_err(|e| named(e, &format!("key {client_id}")))?;
            // When the old secret stops working, as stored (none without a grace period).
            let old_until = manage
                .store()
                .find_credentials(&rotated.key.client_id)
                .await?
                .and_then(|creds| creds.previous_secret.map(|(_, until)| until));
            if json {
                println!(
                    "{}",
                    json!({
                        "clientId": rotated.key.client_id.as_str(),
                        "clientSecret": rotated.secret.as_ref().map(|s| s.expose()),
                        "previousSecretValidUntil": old_until.map(rfc3339),
                    })
                );
            } else {
                println!("clientId:     {}", rotated.key.client_id);
                if let Some(secret) = &rotated.secret {
                    println!("clientSecret: {}", secret.expose());
                }
                match old_until {
                    Some(until) => println!(
                        "The old secret keeps working until {}. The new one is shown only now.",
                        rfc3339(until)
                    ),
                    None => {
                        println!("The old secret no longer works. The new one is shown only now.")
                    }
                }
            }
        }
    }
    Ok(())
}

/// `--expires-at`: an RFC 3339 date-time, or a date (that day's start, UTC).
fn expiry(text: &str) -> anyhow::Result<time::OffsetDateTime> {
    if let Ok(at) = crate::clock::parse_rfc3339(text) {
        return Ok(at);
    }
    let date = time::format_description::well_known::Iso8601::DATE;
    time::Date::parse(text, &date)
        .map(|day| day.midnight().assume_utc())
        .map_err(|_| {
            anyhow::anyhow!(
                "--expires-at {text:?}: give a date (2027-01-31, midnight UTC) or an RFC 3339 \
                 date-time (2027-01-31T17:00:00Z, 2027-01-31T18:00:00+01:00)"
            )
        })
}

/// A refused change, naming what was not found.
fn named(e: ManageError, what: &str) -> anyhow::Error {
    match e {
        ManageError::NotFound => anyhow::anyhow!("{what} not found in this database"),
        other => other.into(),
    }
}

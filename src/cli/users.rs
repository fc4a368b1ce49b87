//! `keymint users upsert|deactivate|reactivate|list|show`.

use clap::Subcommand;
use serde_json::json;

use crate::clock::rfc3339;
use crate::domain::{Permissions, UserId, UserUpsert};
use crate::manage::Management;
use crate::store::{UserQuery, UserSummary};

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user or replace its profile and current permissions.
    Upsert {
        /// Directory id of the user.
        id: String,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Mark as a service account.
        #[arg(long)]
        service_account: bool,
        /// A permission the user holds now (repeat for several).
        #[arg(long = "permission", value_name = "P")]
        permissions: Vec<String>,
    },
    /// Deactivate a user and disable all of its keys at once.
    Deactivate {
        /// Directory id of the user.
        id: String,
    },
    /// Reactivate a user (its disabled keys stay disabled).
    Reactivate {
        /// Directory id of the user.
        id: String,
    },
    /// List users: active state, e-mail, service account, current permissions, keys.
    List {
        /// Print JSON (an array).
        #[arg(long)]
        json: bool,
    },
    /// Show one user.
    Show {
        /// Directory id of the user.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cmd: UsersCommand, manage: &Management) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::List { json } => {
            let users = list(manage, None).await?;
            if json {
                let out: Vec<_> = users.iter().map(user_json).collect();
                println!("{}", serde_json::Value::Array(out));
            } else {
                println!(
                    "{:<24} {:<8} {:<5} {:<8} {:<28} permissions",
                    "id", "state", "kind", "keys", "email"
                );
                for summary in &users {
                    print_row(summary);
                }
                println!("{} user(s)", users.len());
            }
        }
        UsersCommand::Show { id, json } => {
            let user_id = user_id(&id)?;
            let Some(summary) = list(manage, Some(user_id)).await?.pop() else {
                return Err(unknown_user(crate::manage::ManageError::NotFound, &id));
            };
            if json {
                println!("{}", user_json(&summary));
            } else {
                let u = &summary.user;
                println!("id:              {}", u.id);
                println!("state:           {}", state(u.active));
                println!("email:           {}", u.email.as_deref().unwrap_or("-"));
                println!(
                    "service account: {}",
                    if u.service_account { "yes" } else { "no" }
                );
                println!("permissions:     [{}]", u.permissions);
                println!("  from groups:   [{}]", u.group_permissions);
                println!(
                    "keys:            {} ({} enabled)",
                    summary.keys, summary.enabled_keys
                );
                println!("created:         {}", rfc3339(u.created_at));
                println!("updated:         {}", rfc3339(u.updated_at));
            }
        }
        UsersCommand::Upsert {
            id,
            email,
            service_account,
            permissions,
        } => {
            let upsert = UserUpsert {
                id: user_id(&id)?,
                email,
                service_account,
                permissions: Permissions::parse(&permissions)?,
            };
            for (given, meant) in upsert.permissions.near_misses() {
                eprintln!(
                    "warning: permission {given:?} is not {meant:?}: Keymint matches permissions \
                     exactly, so it will not act on {given:?} (see docs/reference.md)"
                );
            }
            let user = manage.upsert_user(&upsert).await?;
            println!(
                "user {}: {}, permissions: [{}]",
                user.id,
                if user.active { "active" } else { "inactive" },
                user.permissions
            );
        }
        UsersCommand::Deactivate { id } => {
            let result = manage
                .deactivate_user(&user_id(&id)?)
                .await
                .map_err(|e| unknown_user(e, &id))?;
            println!(
                "user {} deactivated; {} key(s) disabled",
                result.user.id,
                result.disabled_keys.len()
            );
        }
        UsersCommand::Reactivate { id } => {
            let user = manage
                .reactivate_user(&user_id(&id)?)
                .await
                .map_err(|e| unknown_user(e, &id))?;
            println!(
                "user {} reactivated; its disabled keys stay disabled until enabled",
                user.id
            );
        }
    }
    Ok(())
}

/// Every user (or the one `id`), in id order.
async fn list(manage: &Management, id: Option<UserId>) -> anyhow::Result<Vec<UserSummary>> {
    let mut users = Vec::new();
    let mut after = None;
    loop {
        let query = UserQuery {
            id: id.clone(),
            after: after.clone(),
            limit: 500,
        };
        let (page, more) = manage.store().list_users(&query).await?;
        after = page.last().map(|s| s.user.id.to_string());
        users.extend(page);
        if !more {
            return Ok(users);
        }
    }
}

fn state(active: bool) -> &'static str {
    if active { "active" } else { "inactive" }
}

fn print_row(summary: &UserSummary) {
    let u = &summary.user;
    println!(
        "{:<24} {:<8} {:<5} {:<8} {:<28} [{}]",
        u.id.as_str(),
        state(u.active),
        if u.service_account { "svc" } else { "human" },
        format!("{}/{}", summary.enabled_keys, summary.keys),
        u.email.as_deref().unwrap_or("-"),
        u.permissions
    );
}

fn user_json(summary: &UserSummary) -> serde_json::Value {
    let u = &summary.user;
    json!({
        "id": u.id.as_str(),
        "active": u.active,
        "email": u.email,
        "serviceAccount": u.service_account,
        "permissions": u.permissions.iter().collect::<Vec<_>>(),
        "groupPermissions": u.group_permissions.iter().collect::<Vec<_>>(),
        "keys": summary.keys,
        "enabledKeys": summary.enabled_keys,
        "createdAt": rfc3339(u.created_at),
        "updatedAt": rfc3339(u.updated_at),
    })
}

/// A refusal naming the user that was not found, and how to create one.
fn unknown_user(e: crate::manage::ManageError, id: &str) -> anyhow::Error {
    match e {
        crate::manage::ManageError::NotFound => anyhow::anyhow!(
            "user {id:?} not found in this database (create it with `keymint users upsert {id}`)"
        ),
        other => other.into(),
    }
}

fn user_id(id: &str) -> anyhow::Result<UserId> {
    UserId::parse(id).ok_or_else(|| {
        anyhow::anyhow!("user id must be 1 to 255 characters without control characters")
    })
}

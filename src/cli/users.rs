//! `keymint users upsert|deactivate|reactivate`.

use clap::Subcommand;

use crate::domain::{Permissions, UserId, UserUpsert};
use crate::manage::Management;

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
}

pub async fn run(cmd: UsersCommand, manage: &Management) -> anyhow::Result<()> {
    match cmd {
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

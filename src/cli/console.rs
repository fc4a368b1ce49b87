//! `keymint console link --user ID [--minutes N]`: a one-time sign-in URL for the web
//! console (the embedded default's way in, and break-glass when the identity provider is
//! away). Only the link token's hash is stored; the URL is printed once.

use clap::Subcommand;
use time::Duration;

use crate::config::Config;
use crate::console::{link_token_hash, new_link_token};
use crate::domain::UserId;
use crate::manage::Management;
use crate::store::StoreError;

/// Longest a link may stay valid.
const MAX_MINUTES: i64 = 24 * 60;

#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Print a one-time sign-in link for a user (valid once, for --minutes).
    Link {
        /// The Keymint user id to sign in as (must exist and be active).
        #[arg(long)]
        user: String,
        /// Minutes the link stays valid, 1 to 1440.
        #[arg(long, default_value_t = 15)]
        minutes: i64,
    },
}

pub async fn run(cmd: ConsoleCommand, config: &Config, manage: &Management) -> anyhow::Result<()> {
    let ConsoleCommand::Link { user, minutes } = cmd;
    if !(1..=MAX_MINUTES).contains(&minutes) {
        anyhow::bail!("--minutes must be between 1 and {MAX_MINUTES} (one day)");
    }
    let user_id =
        UserId::parse(&user).ok_or_else(|| anyhow::anyhow!("{user:?} is not a user id"))?;
    let token = new_link_token();
    let ctx = manage.context();
    let expires_at = ctx.now + Duration::minutes(minutes);
    match manage
        .store()
        .create_console_link(&link_token_hash(&token), &user_id, expires_at, &ctx)
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound) => anyhow::bail!(
            "no user {user:?}: create it first (keymint users upsert {user} --permission ...)"
        ),
        Err(StoreError::OwnerInactive) => {
            anyhow::bail!(
                "user {user:?} is inactive: reactivate it first (keymint users reactivate {user})"
            )
        }
        Err(e) => return Err(e.into()),
    }
    println!("{}/console/link/{token}", config.public_url);
    eprintln!(
        "One-time sign-in link for {user}: it works once, until {} (in {minutes} minutes).",
        crate::clock::rfc3339(expires_at)
    );
    Ok(())
}

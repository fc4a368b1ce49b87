//! `keymint tokens revoke --env E JTI`: revoke one access token by its `jti`.

use clap::Subcommand;

use super::served_environment;
use crate::config::{Config, MAX_TOKEN_TTL_SECS};
use crate::manage::Management;

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Revoke an access token: introspection answers {"active": false} for it from now on.
    /// To revoke every token of a key, disable the key.
    Revoke {
        /// Environment of the token.
        #[arg(long)]
        env: String,
        /// The token's `jti` claim.
        jti: String,
    },
}

pub async fn run(cmd: TokensCommand, config: &Config, manage: &Management) -> anyhow::Result<()> {
    match cmd {
        TokensCommand::Revoke { env, jti } => {
            let environment = served_environment(config, &env)?;
            if jti.is_empty() || jti.len() > 128 || jti.chars().any(char::is_control) {
                anyhow::bail!("a jti is 1 to 128 printable characters");
            }
            let now = time::OffsetDateTime::now_utc();
            // The token's own expiry is unknown here; no token lives longer than this.
            let until = now + time::Duration::seconds(MAX_TOKEN_TTL_SECS as i64);
            manage
                .store()
                .revoke_token(&jti, &environment, None, now, until)
                .await?;
            println!("token {jti} revoked in {environment}");
        }
    }
    Ok(())
}

//! `keymint tokens revoke --env E JTI`: revoke one access token by its `jti`.

use clap::Subcommand;

use super::served_environment;
use crate::config::{Config, MAX_TOKEN_TTL_SECS};
use crate::manage::Management;
use crate::verifier::Verifier;

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Revoke an access token: introspection answers {"active": false} for it from now on.
    /// To revoke every token of a key, disable the key.
    Revoke {
        /// Environment of the token.
        #[arg(long)]
        env: String,
        /// The token's `jti` claim. A base64url `jti` may start with `-`, so hyphens are
        /// taken as part of the value.
        #[arg(allow_hyphen_values = true)]
        jti: String,
    },
    /// Print a token's claims and whether it is valid for an issuer (as a gateway checks).
    Verify {
        /// Issuer URL, e.g. https://keymint.example/production.
        #[arg(long)]
        issuer: String,
        /// Expected audience (default: the issuer).
        #[arg(long)]
        audience: Option<String>,
        /// The access token.
        #[arg(allow_hyphen_values = true)]
        token: String,
    },
}

/// `tokens verify` needs no database; the other verbs do.
pub fn needs_store(cmd: &TokensCommand) -> bool {
    !matches!(cmd, TokensCommand::Verify { .. })
}

/// Checks a token against an issuer; exits non-zero when it is not valid.
pub async fn verify(cmd: TokensCommand) -> anyhow::Result<()> {
    let TokensCommand::Verify {
        issuer,
        audience,
        token,
    } = cmd
    else {
        anyhow::bail!("not a verify command")
    };
    // Show the claims whatever the verdict: that is what an on-call engineer needs.
    let payload = token.split('.').nth(1).unwrap_or_default();
    let claims = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    match &claims {
        Some(claims) => println!("{}", serde_json::to_string_pretty(claims)?),
        None => println!("(the token's payload is not readable JSON)"),
    }
    let verifier = Verifier::discover(&issuer, audience.as_deref()).await?;
    match verifier.verify(&token).await {
        Ok(token) => {
            println!(
                "valid for {issuer} (sub {}, client {}, permissions [{}])",
                token.sub,
                token.client_id,
                token.permissions()
            );
            Ok(())
        }
        Err(e) => anyhow::bail!("NOT valid for {issuer}: {e}"),
    }
}

pub async fn run(cmd: TokensCommand, config: &Config, manage: &Management) -> anyhow::Result<()> {
    match cmd {
        TokensCommand::Verify { .. } => verify(cmd).await?,
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

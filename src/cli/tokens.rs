//! `keymint tokens revoke --env E JTI`: revoke one access token by its `jti`;
//! `keymint tokens verify --issuer URL TOKEN [--introspect]`: check one as a gateway would
//! (offline), and with `--introspect` against the database too (revoked, key disabled...).

use clap::Subcommand;

use super::served_environment;
use crate::config::{Config, MAX_TOKEN_TTL_SECS};
use crate::manage::Management;
use crate::store::TokenRevocation;
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
    /// Print a token's claims and whether it is valid for an issuer, checked offline as a
    /// gateway does (signature through the JWKS, issuer, audience, time). Revocation and
    /// the key's current state are checked only with --introspect.
    Verify {
        /// Issuer URL, e.g. https://keymint.example/production.
        #[arg(long)]
        issuer: String,
        /// Expected audience (default: the issuer).
        #[arg(long)]
        audience: Option<String>,
        /// Also check the token against the database, as introspection does: revoked,
        /// key disabled, deleted or expired, owner inactive, secret since replaced.
        #[arg(long)]
        introspect: bool,
        /// The access token.
        #[arg(allow_hyphen_values = true)]
        token: String,
    },
}

/// Length of the `jti` Keymint issues: 16 random bytes in base64url.
const JTI_LEN: usize = 22;

/// True for strings shaped like the `jti` claims Keymint issues.
fn is_keymint_jti(jti: &str) -> bool {
    jti.len() == JTI_LEN
        && jti
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `tokens verify` needs no database unless it introspects; the other verbs do.
pub fn needs_store(cmd: &TokensCommand) -> bool {
    !matches!(
        cmd,
        TokensCommand::Verify {
            introspect: false,
            ..
        }
    )
}

/// Checks a token against an issuer (and, with `--introspect`, the database); exits
/// non-zero when it is not valid.
pub async fn verify(cmd: TokensCommand, manage: Option<&Management>) -> anyhow::Result<()> {
    let TokensCommand::Verify {
        issuer,
        audience,
        introspect,
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
    let verified = match verifier.verify(&token).await {
        Ok(verified) => verified,
        Err(e) => anyhow::bail!("NOT valid for {issuer}: {e}"),
    };
    let summary = format!(
        "sub {}, client {}, permissions [{}]",
        verified.sub,
        verified.client_id,
        verified.permissions()
    );
    let (Some(manage), true) = (manage, introspect) else {
        println!(
            "valid for {issuer} ({summary}), checked offline: signature, issuer, audience and \
             time. Revocation and the key's state were not checked: add --introspect"
        );
        return Ok(());
    };
    let environment = crate::domain::EnvironmentName::parse(&verified.env)
        .map_err(|_| anyhow::anyhow!("the token names no valid environment"))?;
    let sv = claims
        .as_ref()
        .and_then(|c| c["sv"].as_str())
        .map(str::to_owned);
    let claims = crate::oauth::IssuedClaims {
        jti: &verified.jti,
        client_id: &verified.client_id,
        sub: &verified.sub,
        sv: sv.as_deref(),
    };
    let store = manage.store().as_ref();
    match crate::oauth::check_current(store, None, manage.now(), &environment, &claims).await {
        Ok(_) => {
            println!("active: valid for {issuer} ({summary}) and not revoked, its key enabled");
            Ok(())
        }
        Err(inactive) => anyhow::bail!("NOT active: {inactive}"),
    }
}

pub async fn run(cmd: TokensCommand, config: &Config, manage: &Management) -> anyhow::Result<()> {
    match cmd {
        TokensCommand::Verify { .. } => verify(cmd, Some(manage)).await?,
        TokensCommand::Revoke { env, jti } => {
            let environment = served_environment(config, &env)?;
            if !is_keymint_jti(&jti) {
                anyhow::bail!(
                    "{:?} is not a token id Keymint issues: a jti is {JTI_LEN} characters of \
                     A-Z a-z 0-9 - _ (the \"jti\" claim; `keymint tokens verify` prints it)",
                    jti.chars().take(40).collect::<String>()
                );
            }
            // The token's own expiry is unknown here; no token lives longer than this.
            let until = manage.now() + time::Duration::seconds(MAX_TOKEN_TTL_SECS as i64);
            let newly = manage
                .revoke_token(&TokenRevocation {
                    jti: jti.clone(),
                    environment: environment.clone(),
                    client_id: None,
                    user_id: None,
                    expires_at: until,
                })
                .await?;
            if newly {
                println!("token {jti} revoked in {environment}");
            } else {
                println!("token {jti} was already revoked in {environment}");
            }
        }
    }
    Ok(())
}

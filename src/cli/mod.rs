//! The `keymint` command line (verbs fixed by the contract).

mod audit;
mod keys;
mod serve;
mod signing_keys;
mod tokens;
mod users;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::sync::Arc;

use crate::clock::SystemClock;
use crate::config::Config;
use crate::manage::Management;
use crate::secrets::SecretHasher;

/// Keymint: an OAuth2 client-credentials token issuer.
#[derive(Debug, Parser)]
#[command(name = "keymint", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run migrations, create missing signing keys, and serve HTTP.
    Serve,
    /// Mirror users from the directory.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Create, list, disable, enable, delete API keys and rotate their secrets.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Revoke access tokens.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// Show the audit trail of an environment.
    Audit(audit::AuditArgs),
    /// List or rotate the signing keys of an environment.
    #[command(subcommand, name = "signing-keys")]
    SigningKeys(signing_keys::SigningKeysCommand),
}

/// Logs to stderr; `RUST_LOG` overrides the default level, `KEYMINT_LOG_FORMAT=json`
/// writes one JSON object per line (with the request span and its `request_id`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let json = std::env::var("KEYMINT_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json {
        builder.json().with_current_span(true).try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
}

/// Runs one command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    match cli.command {
        Command::Serve => serve::run(config).await,
        Command::Users(cmd) => users::run(cmd, &open(&config).await?).await,
        Command::Keys(cmd) => keys::run(cmd, &config, &open(&config).await?).await,
        Command::Tokens(cmd) if !tokens::needs_store(&cmd) => tokens::verify(cmd, None).await,
        Command::Tokens(cmd) => tokens::run(cmd, &config, &open(&config).await?).await,
        Command::Audit(args) => audit::run(args, &config, &open(&config).await?).await,
        Command::SigningKeys(cmd) => signing_keys::run(cmd, &config),
    }
}

/// Opens the store (running migrations, so any command works on a fresh database).
async fn open(config: &Config) -> anyhow::Result<Management> {
    let store = crate::store::connect(&config.database_url).await?;
    store.migrate().await?;
    // Running instances learn of these changes from the change feed in the database.
    Ok(Management::new(
        store,
        Arc::new(SecretHasher::per_core()),
        Arc::new(SystemClock),
        Arc::new(crate::sync::ChangeFeed::default()),
    ))
}

/// Parses an environment name that must be served.
fn served_environment(
    config: &Config,
    name: &str,
) -> anyhow::Result<crate::domain::EnvironmentName> {
    config
        .environment(name)
        .map(|e| e.name.clone())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "environment {name:?} is not served; KEYMINT_ENVIRONMENTS has: {}",
                config
                    .environments
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `jti` or token is base64url and one in 64 starts with `-`; pasted as is, it must parse.
    #[test]
    fn values_that_start_with_a_hyphen_are_values() {
        let cli = Cli::try_parse_from([
            "keymint",
            "tokens",
            "revoke",
            "--env",
            "production",
            "-v3W1",
        ])
        .expect("a jti starting with '-' parses");
        match cli.command {
            Command::Tokens(tokens::TokensCommand::Revoke { env, jti }) => {
                assert_eq!(env, "production");
                assert_eq!(jti, "-v3W1");
            }
            other => panic!("parsed as {other:?}"),
        }
        let cli = Cli::try_parse_from([
            "keymint",
            "tokens",
            "verify",
            "--issuer",
            "http://x/p",
            "-eyJ",
        ])
        .expect("a token starting with '-' parses");
        assert!(matches!(
            cli.command,
            Command::Tokens(tokens::TokensCommand::Verify { token, .. }) if token == "-eyJ"
        ));
    }
}

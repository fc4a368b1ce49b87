//! The `keymint` command line (verbs fixed by the contract).

mod audit;
mod config_check;
mod console;
mod events;
mod groups;
mod key_auth;
mod key_list;
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
use crate::domain::Actor;
use crate::manage::Management;
use crate::secrets::SecretHasher;

/// Parses the command line; `serve --help` lists every configuration variable from
/// [`crate::config::table`].
pub fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let command = Cli::command().mut_subcommand("serve", |serve| {
        serve.after_help(crate::config::table::help())
    });
    Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit())
}

/// Keymint: an OAuth2 client-credentials token issuer.
#[derive(Debug, Parser)]
#[command(name = "keymint", version, about)]
pub struct Cli {
    /// Who is acting, for the audit trail (default: the OS account, as user@host).
    #[arg(long, global = true, value_name = "NAME")]
    actor: Option<String>,
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
    /// Sign-in links for the web console.
    #[command(subcommand)]
    Console(console::ConsoleCommand),
    /// Map directory groups to the permissions their members hold.
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
    /// Create, list, disable, enable, delete API keys and rotate their secrets.
    #[command(subcommand)]
    Keys(Box<keys::KeysCommand>),
    /// Revoke access tokens.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// The outbox of lifecycle events: list it, redeliver what was set aside.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Check the configuration: print what serve would run with (secrets left out) and
    /// what is wrong with it.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Show the audit trail of an environment.
    Audit(audit::AuditArgs),
    /// List or rotate the signing keys of an environment.
    #[command(subcommand, name = "signing-keys")]
    SigningKeys(signing_keys::SigningKeysCommand),
    /// Generate an encryption-key entry, or re-encrypt the stored signing keys under the
    /// first entry of KEYMINT_ENCRYPTION_KEYS.
    #[command(subcommand, name = "encryption-keys")]
    EncryptionKeys(signing_keys::EncryptionKeysCommand),
    /// The permissions Keymint itself acts on, and what each allows.
    Permissions,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration and check it (variables, database).
    Check,
}

/// Logs to stderr; `RUST_LOG` overrides the default level, `KEYMINT_LOG_FORMAT=json`
/// writes one JSON object per line (with the request span and its `request_id`). `serve`
/// logs from `info`; the other commands print their answer and log only warnings, so a
/// routine command's output is its answer.
pub fn init_tracing(serving: bool) {
    let default = if serving { "info,sqlx=warn" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
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

impl Cli {
    /// True for `serve`, the one long-running command.
    pub fn serves(&self) -> bool {
        matches!(self.command, Command::Serve)
    }
}

/// Runs one command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // These two need no configuration: they help when it is wrong.
    match cli.command {
        Command::Config(ConfigCommand::Check) => config_check::run().await,
        Command::Permissions => {
            print_permissions();
            Ok(())
        }
        command => run_configured(command, cli.actor).await,
    }
}

async fn run_configured(command: Command, actor: Option<String>) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let operator = operator(actor)?;
    let connect = |config| open(config, operator.clone());
    match command {
        Command::Serve => serve::run(config).await,
        Command::Users(cmd) => users::run(cmd, &connect(&config).await?).await,
        Command::Groups(cmd) => groups::run(cmd, &connect(&config).await?).await,
        Command::Console(cmd) => console::run(cmd, &config, &connect(&config).await?).await,
        Command::Events(cmd) => events::run(cmd, &connect(&config).await?).await,
        Command::Keys(cmd) => keys::run(*cmd, &config, &connect(&config).await?).await,
        Command::Tokens(cmd) if !tokens::needs_store(&cmd) => tokens::verify(cmd, None).await,
        Command::Tokens(cmd) => tokens::run(cmd, &config, &connect(&config).await?).await,
        Command::Audit(args) => audit::run(args, &config, &connect(&config).await?).await,
        Command::SigningKeys(cmd) => {
            signing_keys::run(cmd, &config, &connect(&config).await?).await
        }
        Command::EncryptionKeys(signing_keys::EncryptionKeysCommand::Generate) => {
            println!("{}", crate::signing::EncryptionKeys::generate_entry());
            Ok(())
        }
        Command::EncryptionKeys(cmd) => {
            signing_keys::run_encryption(cmd, &config, &connect(&config).await?).await
        }
        Command::Config(ConfigCommand::Check) => config_check::run().await,
        Command::Permissions => {
            print_permissions();
            Ok(())
        }
    }
}

/// Opens the store (running migrations, so any command works on a fresh database); the
/// changes are recorded as made by `operator` at the command line.
async fn open(config: &Config, operator: String) -> anyhow::Result<Management> {
    let store = crate::store::connect(&config.database_url).await?;
    store.migrate().await?;
    // Running instances learn of these changes from the change feed in the database.
    let manage = Management::new(
        store,
        Arc::new(SecretHasher::per_core()),
        Arc::new(SystemClock),
        Arc::new(crate::changes::ChangeFeed::default()),
    );
    Ok(manage.acting_as(Actor::cli(operator), None))
}

/// `keymint permissions`: the catalogue of permissions Keymint acts on.
fn print_permissions() {
    println!("Keymint acts on these permissions, matched exactly (case matters):");
    for (name, allows) in crate::domain::BUILT_IN {
        println!("  {name:<16} {allows}");
    }
    println!(
        "Every other permission is passed through to the tokens as is, for your APIs to check.\n\
         Give a user some with: keymint users upsert ID --permission P ...\n\
         Details: docs/reference.md#permissions-keymint-understands"
    );
}

/// Longest `--actor` accepted.
const MAX_ACTOR_LEN: usize = 100;

/// The operator recorded in audit entries: `--actor` when given, else the OS account as
/// `user@host` (`uid N@host` when the environment names no user).
fn operator(actor: Option<String>) -> anyhow::Result<String> {
    if let Some(actor) = actor {
        if actor.is_empty()
            || actor.chars().count() > MAX_ACTOR_LEN
            || actor.chars().any(char::is_control)
        {
            anyhow::bail!(
                "--actor must be 1 to {MAX_ACTOR_LEN} characters without control characters"
            );
        }
        return Ok(actor);
    }
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self")
                .map_or_else(|_| "unknown".into(), |m| format!("uid {}", m.uid()))
        });
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let operator: String = format!("{user}@{host}")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_ACTOR_LEN)
        .collect();
    Ok(operator)
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

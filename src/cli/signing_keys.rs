//! `keymint signing-keys list|rotate --env E`.

use clap::Subcommand;

use super::{rfc3339, served_environment};
use crate::config::Config;
use crate::signing::KeyDir;

#[derive(Debug, Subcommand)]
pub enum SigningKeysCommand {
    /// Show the environment's signing keys, newest (active) last.
    List {
        /// Environment.
        #[arg(long)]
        env: String,
    },
    /// Create a new signing key; it becomes the active key when instances (re)start.
    Rotate {
        /// Environment.
        #[arg(long)]
        env: String,
    },
}

pub fn run(cmd: SigningKeysCommand, config: &Config) -> anyhow::Result<()> {
    let dir = KeyDir::new(&config.keys_dir);
    match cmd {
        SigningKeysCommand::List { env } => {
            let env = served_environment(config, &env)?;
            let keys = dir.load(&env)?;
            if keys.is_empty() {
                println!("no signing keys for {env} yet; `keymint serve` creates one");
            }
            let last = keys.len().saturating_sub(1);
            for (i, stored) in keys.iter().enumerate() {
                let state = if i == last { "active" } else { "published" };
                println!(
                    "{}  {}  {}  created {}",
                    stored.key.kid(),
                    stored.key.alg(),
                    state,
                    rfc3339(stored.created_at)
                );
            }
        }
        SigningKeysCommand::Rotate { env } => {
            let env_config = config.environment(&env).ok_or_else(|| {
                anyhow::anyhow!("environment {env:?} is not in KEYMINT_ENVIRONMENTS")
            })?;
            let env = served_environment(config, &env)?;
            let created = dir.create(&env, env_config.alg, time::OffsetDateTime::now_utc())?;
            println!(
                "new {} signing key {} for {}",
                created.key.alg(),
                created.key.kid(),
                env
            );
            println!("Restart running instances to sign with it; earlier keys stay published.");
        }
    }
    Ok(())
}

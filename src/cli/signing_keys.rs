//! `keymint signing-keys list|rotate --env E`.

use clap::Subcommand;

use super::served_environment;
use crate::clock::rfc3339;
use crate::config::Config;
use crate::manage::Management;
use crate::signing::{KeyDir, Schedule};

#[derive(Debug, Subcommand)]
pub enum SigningKeysCommand {
    /// Show the environment's signing keys with their state (next, active, retiring, retired) and dates.
    List {
        /// Environment.
        #[arg(long)]
        env: String,
    },
    /// Publish a new signing key now; it signs after the publish delay.
    Rotate {
        /// Environment.
        #[arg(long)]
        env: String,
    },
}

pub async fn run(
    cmd: SigningKeysCommand,
    config: &Config,
    manage: &Management,
) -> anyhow::Result<()> {
    let dir = KeyDir::new(&config.keys_dir);
    let schedule = Schedule {
        publish_delay: config.signing_publish_delay,
        token_ttl: config.token_ttl,
    };
    let now = time::OffsetDateTime::now_utc();
    match cmd {
        SigningKeysCommand::List { env } => {
            let env = served_environment(config, &env)?;
            let keys = dir.load(&env)?;
            if keys.is_empty() {
                println!("no signing keys for {env} yet; `keymint serve` creates one");
            }
            let timelines =
                schedule.classify(&keys.iter().map(|k| k.created_at).collect::<Vec<_>>(), now);
            for (stored, t) in keys.iter().zip(timelines) {
                let retires = t
                    .retires_at
                    .map(|r| format!("  unpublished from {}", rfc3339(r)))
                    .unwrap_or_default();
                println!(
                    "{}  {:<5}  {:<8}  created {}  signs from {}{}",
                    stored.key.kid(),
                    stored.key.alg(),
                    t.state,
                    rfc3339(stored.created_at),
                    rfc3339(t.activates_at),
                    retires
                );
            }
        }
        SigningKeysCommand::Rotate { env } => {
            let env = served_environment(config, &env)?;
            let alg = config
                .environment(env.as_str())
                .map(|e| e.alg)
                .ok_or_else(|| anyhow::anyhow!("environment {env} has no signing algorithm"))?;
            let created = dir.create(&env, alg, now)?;
            manage.signing_key_created(&env, created.key.kid()).await?;
            let signs_from = now
                + time::Duration::try_from(schedule.publish_delay).unwrap_or(time::Duration::ZERO);
            println!(
                "new {} signing key {} for {}: published now, signs from {}",
                created.key.alg(),
                created.key.kid(),
                env,
                rfc3339(signs_from)
            );
            println!(
                "Running instances pick it up within a second; the previous key stays published until its tokens have expired."
            );
        }
    }
    Ok(())
}

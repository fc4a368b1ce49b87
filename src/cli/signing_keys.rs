//! `keymint signing-keys list|rotate --env E` and `keymint encryption-keys generate|rewrap`.

use clap::Subcommand;
use std::sync::Arc;

use super::served_environment;
use crate::clock::rfc3339;
use crate::config::Config;
use crate::manage::Management;
use crate::signing::{EncryptionKeys, KeyRing, Schedule, reseal_record};
use crate::store::InsertWhen;

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

#[derive(Debug, Subcommand)]
pub enum EncryptionKeysCommand {
    /// Print a fresh ID:KEY entry for KEYMINT_ENCRYPTION_KEYS.
    Generate,
    /// Re-encrypt every stored signing key under the first entry of KEYMINT_ENCRYPTION_KEYS;
    /// afterwards the other entries can be dropped.
    Rewrap,
}

fn schedule(config: &Config) -> Schedule {
    Schedule {
        publish_delay: config.signing_publish_delay,
        token_ttl: config.token_ttl,
    }
}

pub async fn run(
    cmd: SigningKeysCommand,
    config: &Config,
    manage: &Management,
) -> anyhow::Result<()> {
    let store = manage.store();
    let now = manage.now();
    match cmd {
        SigningKeysCommand::List { env } => {
            let env = served_environment(config, &env)?;
            let keys = store.signing_keys(Some(&env)).await?;
            if keys.is_empty() {
                println!("no signing keys for {env} yet; `keymint serve` creates one");
            }
            let created: Vec<_> = keys.iter().map(|k| k.created_at).collect();
            for (key, t) in keys.iter().zip(schedule(config).classify(&created, now)) {
                let retires = t
                    .retires_at
                    .map(|r| format!("  unpublished from {}", rfc3339(r)))
                    .unwrap_or_default();
                println!(
                    "{}  {:<5}  {:<8}  created {}  signs from {}{}  (encrypted under {})",
                    key.kid,
                    key.alg,
                    t.state,
                    rfc3339(key.created_at),
                    rfc3339(t.activates_at),
                    retires,
                    key.encryption_key_id
                );
            }
        }
        SigningKeysCommand::Rotate { env } => {
            let env = served_environment(config, &env)?;
            let alg = config
                .environment(env.as_str())
                .map(|e| e.alg)
                .ok_or_else(|| anyhow::anyhow!("environment {env} has no signing algorithm"))?;
            let encryption = crate::signing::encryption_keys(
                config.encryption_keys.as_ref(),
                &config.keys_dir,
                store.as_ref(),
            )
            .await?;
            let ring = KeyRing::new(
                Arc::clone(store),
                encryption,
                vec![(env.clone(), alg)],
                schedule(config),
            );
            let created = ring
                .create(&env, alg, InsertWhen::Always, &manage.context())
                .await?
                .ok_or_else(|| anyhow::anyhow!("no key was created"))?;
            let signs_from = created.created_at
                + time::Duration::try_from(config.signing_publish_delay)
                    .unwrap_or(time::Duration::ZERO);
            println!(
                "new {} signing key {} for {}: published now, signs from {}",
                created.alg,
                created.kid,
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

pub async fn run_encryption(
    cmd: EncryptionKeysCommand,
    config: &Config,
    manage: &Management,
) -> anyhow::Result<()> {
    if let EncryptionKeysCommand::Generate = cmd {
        println!("{}", EncryptionKeys::generate_entry());
        return Ok(());
    }
    let store = manage.store();
    let encryption = crate::signing::encryption_keys(
        config.encryption_keys.as_ref(),
        &config.keys_dir,
        store.as_ref(),
    )
    .await?;
    let first = encryption.sealing_id().to_owned();
    let mut rewrapped = Vec::new();
    for record in store.signing_keys(None).await? {
        if record.encryption_key_id == first {
            continue;
        }
        let resealed = reseal_record(&encryption, &record)?;
        rewrapped.push((resealed, record.encryption_key_id));
    }
    let done = store
        .rewrap_signing_keys(&rewrapped, &manage.context())
        .await?;
    println!(
        "{done} signing key(s) re-encrypted under {first}; every stored key is now encrypted under it, so the other entries of KEYMINT_ENCRYPTION_KEYS can be dropped"
    );
    Ok(())
}

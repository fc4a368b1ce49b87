//! Start-up of the signing keys. In order, so that a wrong configuration writes nothing:
//! 1. which encryption keys: `KEYMINT_ENCRYPTION_KEYS`, else the generated file
//!    `{KEYMINT_KEYS_DIR}/encryption-keys` (created only while the database holds no
//!    signing key: a lost file is an error, never a silent new key);
//! 2. every stored signing key must open with them (the error names the missing id);
//! 3. key files of earlier versions (`keys/<env>/*.pem`) are imported, same kid and date;
//! 4. missing keys are created, by one instance however many start at once.

use anyhow::Context;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::encryption::FILE_NAME;
use super::ring::{open_record, seal_record};
use super::{EncryptionKeys, KeyRing, legacy};
use crate::store::{InsertWhen, Store, WriteContext};

/// The encryption keys to use: the configured ones, else those of the key file (generated
/// on first start, while the database holds no signing key).
pub async fn encryption_keys(
    configured: Option<&EncryptionKeys>,
    keys_dir: &Path,
    store: &dyn Store,
) -> anyhow::Result<EncryptionKeys> {
    if let Some(keys) = configured {
        return Ok(keys.clone());
    }
    let path = keys_dir.join(FILE_NAME);
    if !path.exists() {
        let stored = store.signing_keys(None).await?;
        if !stored.is_empty() {
            let mut ids: Vec<&str> = stored
                .iter()
                .map(|k| k.encryption_key_id.as_str())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            anyhow::bail!(
                "KEYMINT_ENCRYPTION_KEYS is unset and {} does not exist, but the database holds \
                 signing keys encrypted under encryption key id(s) {}: set KEYMINT_ENCRYPTION_KEYS \
                 to the entries with those ids (or restore the file); Keymint does not replace \
                 signing keys it cannot read",
                path.display(),
                ids.join(", ")
            );
        }
        create_key_file(keys_dir, &path)?;
    }
    read_key_file(&path)
}

fn create_key_file(keys_dir: &Path, path: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(keys_dir).with_context(|| keys_dir.display().to_string())?;
    fs::set_permissions(keys_dir, fs::Permissions::from_mode(0o700))
        .with_context(|| keys_dir.display().to_string())?;
    let entry = zeroize::Zeroizing::new(format!("{}\n", EncryptionKeys::generate_entry()));
    // Written whole under a name of its own, then linked into place: the key file exists
    // complete or not at all, whatever fails midway (a full disk, a kill), and of the
    // instances sharing the folder that race here one links, the others read its file.
    let temp = keys_dir.join(format!(
        ".{FILE_NAME}.{}.tmp",
        crate::secrets::random_token(9)
    ));
    let linked = write_synced(&temp, entry.as_bytes()).and_then(|()| fs::hard_link(&temp, path));
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            fs::File::open(keys_dir)
                .and_then(|dir| dir.sync_all())
                .with_context(|| keys_dir.display().to_string())?;
            tracing::info!(path = %path.display(), "encryption key generated; back it up with the database");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| path.display().to_string()),
    }
}

/// A new file at `path` (owner-only) holding `bytes`, flushed to the disk.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn read_key_file(path: &Path) -> anyhow::Result<EncryptionKeys> {
    let meta = fs::metadata(path).with_context(|| path.display().to_string())?;
    if meta.permissions().mode() & 0o077 != 0 {
        anyhow::bail!(
            "{}: encryption keys are readable by group or others; run chmod 600 on it",
            path.display()
        );
    }
    let text = zeroize::Zeroizing::new(
        fs::read_to_string(path).with_context(|| path.display().to_string())?,
    );
    EncryptionKeys::parse(text.trim()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Checks, imports and creates the signing keys of the ring's environments, then loads them.
pub async fn start(
    ring: &KeyRing,
    store: &dyn Store,
    keys_dir: &Path,
    ctx: &WriteContext,
) -> anyhow::Result<()> {
    // Every stored key must open before anything is written.
    for record in store.signing_keys(None).await? {
        open_record(ring.encryption(), &record).map_err(|e| {
            anyhow::anyhow!(
                "{e}. Start with the KEYMINT_ENCRYPTION_KEYS the keys were stored under; \
                 Keymint does not replace signing keys it cannot read"
            )
        })?;
    }
    for (env, alg) in ring.environments() {
        for file in legacy::read_keys(keys_dir, env)? {
            let record = seal_record(
                ring.encryption(),
                env,
                &file.key,
                &file.der,
                file.created_at,
            );
            if store
                .insert_signing_key(&record, InsertWhen::Import, ctx)
                .await?
                .is_some()
            {
                tracing::info!(env = %env, kid = %file.key.kid(), path = %file.path.display(), "signing key file imported into the database; the file can be deleted");
            }
        }
        if let Some(created) = ring.create(env, *alg, InsertWhen::Missing, ctx).await? {
            tracing::info!(env = %env, kid = %created.kid, alg = %created.alg, "signing key created");
        }
    }
    ring.reload_all(ctx.now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Instances sharing a folder start at once: every one reads the same whole key file,
    /// and nothing else is left in the folder.
    #[test]
    fn racing_first_starts_all_read_one_whole_key_file() {
        for _ in 0..50 {
            let dir = tempfile::tempdir().unwrap();
            let keys_dir = dir.path().join("keys");
            let path = keys_dir.join(FILE_NAME);
            let read: Vec<String> = std::thread::scope(|s| {
                let starts: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            create_key_file(&keys_dir, &path).unwrap();
                            fs::read_to_string(&path).unwrap()
                        })
                    })
                    .collect();
                starts.into_iter().map(|t| t.join().unwrap()).collect()
            });
            assert!(read.iter().all(|text| text == &read[0]));
            assert!(read_key_file(&path).is_ok());
            assert_eq!(fs::read_dir(&keys_dir).unwrap().count(), 1);
        }
    }
}

//! Signing-key files of earlier versions, read once at start-up to be imported into the
//! store: `<keys dir>/<env>/<created unix seconds>-<kid>.pem`, PKCS#8 PEM, mode 0600.
//! Keymint no longer writes these; importing them keeps the tokens they signed verifying.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::SigningKey;
use crate::domain::EnvironmentName;

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// Why a key file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Filesystem error.
    #[error("{path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A file that is not a usable PKCS#8 PEM key.
    #[error("{0}: not a PKCS#8 PEM P-256, RSA or Ed25519 private key")]
    BadKey(PathBuf),
    /// A `.pem` whose name does not follow `<unix seconds>-<kid>.pem`.
    #[error("{0}: signing key files must be named <created unix seconds>-<kid>.pem")]
    BadName(PathBuf),
    /// A key readable by group or others.
    #[error("{0}: private key is readable by group or others; run chmod 600 on it")]
    TooOpen(PathBuf),
}

/// A key file of an earlier version.
pub struct LegacyKey {
    /// The key.
    pub key: SigningKey,
    /// Its PKCS#8 DER, to be sealed into the store.
    pub der: Zeroizing<Vec<u8>>,
    /// When it was created (from its file name).
    pub created_at: OffsetDateTime,
    /// Its file.
    pub path: PathBuf,
}

/// The key files of `env` under `root`, oldest first; a missing directory has none.
pub fn read_keys(root: &Path, env: &EnvironmentName) -> Result<Vec<LegacyKey>, KeyFileError> {
    let dir = root.join(env.as_str());
    let io = |source| KeyFileError::Io {
        path: dir.clone(),
        source,
    };
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut keys = Vec::new();
    for entry in entries {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|ext| ext == "pem") {
            keys.push(read_key(&path)?);
        }
    }
    keys.sort_by(|a, b| (a.created_at, a.key.kid()).cmp(&(b.created_at, b.key.kid())));
    Ok(keys)
}

fn read_key(path: &Path) -> Result<LegacyKey, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(KeyFileError::TooOpen(path.to_owned()));
    }
    let created_at = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.split_once('-'))
        .and_then(|(secs, _)| OffsetDateTime::from_unix_timestamp(secs.parse().ok()?).ok())
        .ok_or_else(|| KeyFileError::BadName(path.to_owned()))?;
    let text = Zeroizing::new(fs::read_to_string(path).map_err(io)?);
    let der = pem_decode(&text).ok_or_else(|| KeyFileError::BadKey(path.to_owned()))?;
    let key = SigningKey::from_pkcs8(&der).map_err(|_| KeyFileError::BadKey(path.to_owned()))?;
    Ok(LegacyKey {
        key,
        der,
        created_at,
        path: path.to_owned(),
    })
}

fn pem_decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let body = text.trim().strip_prefix(PEM_BEGIN)?.strip_suffix(PEM_END)?;
    let b64: Zeroizing<String> =
        Zeroizing::new(body.chars().filter(|c| !c.is_whitespace()).collect());
    STANDARD.decode(b64.as_bytes()).ok().map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::SigningAlg;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    /// Writes a key file the way earlier versions did.
    fn write_key(root: &Path, env: &str, alg: SigningAlg, created: i64, mode: u32) -> String {
        let (key, der) = SigningKey::generate(alg).unwrap();
        let dir = root.join(env);
        fs::create_dir_all(&dir).unwrap();
        let b64 = STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let pem = format!("{PEM_BEGIN}\n{}\n{PEM_END}\n", lines.join("\n"));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(dir.join(format!("{created}-{}.pem", key.kid())))
            .unwrap();
        file.write_all(pem.as_bytes()).unwrap();
        key.kid().to_owned()
    }

    #[test]
    fn key_files_are_read_oldest_first_with_their_dates() {
        let tmp = tempfile::tempdir().unwrap();
        let env = EnvironmentName::parse("production").unwrap();
        let newer = write_key(
            tmp.path(),
            "production",
            SigningAlg::EdDsa,
            1_800_000_100,
            0o600,
        );
        let older = write_key(
            tmp.path(),
            "production",
            SigningAlg::Rs256,
            1_800_000_000,
            0o600,
        );
        let keys = read_keys(tmp.path(), &env).unwrap();
        let kids: Vec<&str> = keys.iter().map(|k| k.key.kid()).collect();
        assert_eq!(kids, [older.as_str(), newer.as_str()]);
        assert_eq!(keys[0].created_at.unix_timestamp(), 1_800_000_000);
        assert_eq!(keys[0].key.alg(), SigningAlg::Rs256);
        let sandbox = EnvironmentName::parse("sandbox").unwrap();
        assert!(read_keys(tmp.path(), &sandbox).unwrap().is_empty());
    }

    #[test]
    fn group_readable_keys_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let env = EnvironmentName::parse("sandbox").unwrap();
        write_key(
            tmp.path(),
            "sandbox",
            SigningAlg::Es256,
            1_800_000_000,
            0o640,
        );
        assert!(matches!(
            read_keys(tmp.path(), &env),
            Err(KeyFileError::TooOpen(_))
        ));
    }
}

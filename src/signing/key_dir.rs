//! Signing keys on disk: `<keys dir>/<env>/<created unix seconds>-<kid>.pem`, PKCS#8 PEM,
//! mode 0600 in a 0700 directory. The newest file is the active key; all are published.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

use super::{SigningAlg, SigningKey};
use crate::domain::EnvironmentName;

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// Why the key directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyDirError {
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
    /// Key generation failed.
    #[error("could not generate a {0} key")]
    Generate(SigningAlg),
}

/// A key loaded from disk.
#[derive(Debug)]
pub struct StoredKey {
    /// The key.
    pub key: SigningKey,
    /// When it was created (from its file name).
    pub created_at: OffsetDateTime,
    /// Its file.
    pub path: PathBuf,
}

/// The keys directory.
#[derive(Debug, Clone)]
pub struct KeyDir {
    root: PathBuf,
}

impl KeyDir {
    /// The directory at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// All keys of `env`, oldest first. A missing directory means no keys.
    pub fn load(&self, env: &EnvironmentName) -> Result<Vec<StoredKey>, KeyDirError> {
        let dir = self.root.join(env.as_str());
        let mut keys = Vec::new();
        for path in pem_files(&dir, true)? {
            keys.push(read_key(&path)?);
        }
        keys.sort_by(|a, b| (a.created_at, a.key.kid()).cmp(&(b.created_at, b.key.kid())));
        Ok(keys)
    }

    /// (kid, state) of the keys of `env` at `now`, from file names only (no parsing).
    pub fn timeline(
        &self,
        env: &EnvironmentName,
        schedule: &super::Schedule,
        now: OffsetDateTime,
    ) -> Result<Vec<(String, super::KeyState)>, KeyDirError> {
        let dir = self.root.join(env.as_str());
        let mut named = Vec::new();
        for path in pem_files(&dir, false)? {
            named.push(parse_name(&path)?);
        }
        named.sort();
        let states = schedule.classify(&named.iter().map(|(c, _)| *c).collect::<Vec<_>>(), now);
        Ok(named
            .into_iter()
            .zip(states)
            .map(|((_, kid), t)| (kid, t.state))
            .collect())
    }

    /// Generates a new `alg` key for `env`, written atomically with mode 0600.
    pub fn create(
        &self,
        env: &EnvironmentName,
        alg: SigningAlg,
        now: OffsetDateTime,
    ) -> Result<StoredKey, KeyDirError> {
        let dir = self.root.join(env.as_str());
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| KeyDirError::Io { path, source }
        };
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io(&dir))?;

        let (key, der) = SigningKey::generate(alg).map_err(|_| KeyDirError::Generate(alg))?;
        // Creation times order the keys (the newest signs), so they must be distinct: a
        // key made within the same second as the newest existing one is dated a second later.
        let newest = self
            .load(env)?
            .last()
            .map_or(i64::MIN, |k| k.created_at.unix_timestamp());
        let created = now.unix_timestamp().max(newest.saturating_add(1));
        let path = dir.join(format!("{created}-{}.pem", key.kid()));
        let tmp = dir.join(format!(".{}.tmp", key.kid()));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        file.write_all(pem_encode(&der).as_bytes())
            .map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(StoredKey {
            key,
            created_at: OffsetDateTime::from_unix_timestamp(created).unwrap_or(now),
            path,
        })
    }

    /// Claims the scheduled rotation of `env` for the day of `now`; true for exactly one
    /// caller (instances sharing the directory race on an exclusive file creation).
    pub fn claim_rotation(
        &self,
        env: &EnvironmentName,
        now: OffsetDateTime,
    ) -> Result<bool, KeyDirError> {
        let path = self
            .root
            .join(env.as_str())
            .join(format!(".rotation-{}", now.unix_timestamp() / 86_400));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(source) => Err(KeyDirError::Io { path, source }),
        }
    }

    /// Loads the keys of `env`, creating an `alg` key first when there is none or the
    /// newest one uses another algorithm (the operator changed `KEYMINT_SIGNING_ALG`).
    pub fn ensure(
        &self,
        env: &EnvironmentName,
        alg: SigningAlg,
        now: OffsetDateTime,
    ) -> Result<Vec<StoredKey>, KeyDirError> {
        let mut keys = self.load(env)?;
        if keys.last().is_none_or(|k| k.key.alg() != alg) {
            keys.push(self.create(env, alg, now)?);
        }
        Ok(keys)
    }
}

fn read_key(path: &Path) -> Result<StoredKey, KeyDirError> {
    let io = |source| KeyDirError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(KeyDirError::TooOpen(path.to_owned()));
    }
    let (created_at, _) = parse_name(path)?;
    let text = fs::read_to_string(path).map_err(io)?;
    let der = pem_decode(&text).ok_or_else(|| KeyDirError::BadKey(path.to_owned()))?;
    let key = SigningKey::from_pkcs8(&der).map_err(|_| KeyDirError::BadKey(path.to_owned()))?;
    Ok(StoredKey {
        key,
        created_at,
        path: path.to_owned(),
    })
}

/// `<unix seconds>-<kid>.pem` -> (created, kid).
fn parse_name(path: &Path) -> Result<(OffsetDateTime, String), KeyDirError> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.split_once('-'))
        .and_then(|(secs, kid)| {
            let created = OffsetDateTime::from_unix_timestamp(secs.parse::<i64>().ok()?).ok()?;
            Some((created, kid.to_owned()))
        })
        .ok_or_else(|| KeyDirError::BadName(path.to_owned()))
}

fn pem_encode(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from(PEM_BEGIN);
    out.push('\n');
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(PEM_END);
    out.push('\n');
    out
}

fn pem_decode(text: &str) -> Option<Vec<u8>> {
    let body = text.trim().strip_prefix(PEM_BEGIN)?.strip_suffix(PEM_END)?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(b64).ok()
}

/// The `.pem` files in `dir`; a missing `dir` is empty when `missing_is_empty`.
fn pem_files(dir: &Path, missing_is_empty: bool) -> Result<Vec<PathBuf>, KeyDirError> {
    let io = |source| KeyDirError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if missing_is_empty && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(io(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|ext| ext == "pem") {
            files.push(path);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_disk_with_private_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = KeyDir::new(tmp.path());
        let env = EnvironmentName::parse("production").unwrap();
        let now = OffsetDateTime::now_utc();
        for alg in [SigningAlg::Es256, SigningAlg::Rs256, SigningAlg::EdDsa] {
            let created = dir.create(&env, alg, now).unwrap();
            let mode = fs::metadata(&created.path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let loaded = read_key(&created.path).unwrap();
            assert_eq!(loaded.key.kid(), created.key.kid());
            assert_eq!(loaded.key.alg(), alg);
        }
        let env_dir = tmp.path().join("production");
        assert_eq!(
            fs::metadata(&env_dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(dir.load(&env).unwrap().len(), 3);
    }

    #[test]
    fn group_readable_keys_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = KeyDir::new(tmp.path());
        let env = EnvironmentName::parse("sandbox").unwrap();
        let created = dir
            .create(&env, SigningAlg::Es256, OffsetDateTime::now_utc())
            .unwrap();
        fs::set_permissions(&created.path, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(dir.load(&env), Err(KeyDirError::TooOpen(_))));
    }

    #[test]
    fn ensure_creates_once_and_on_algorithm_change() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = KeyDir::new(tmp.path());
        let env = EnvironmentName::parse("production").unwrap();
        let now = OffsetDateTime::now_utc();
        assert_eq!(dir.ensure(&env, SigningAlg::Es256, now).unwrap().len(), 1);
        assert_eq!(dir.ensure(&env, SigningAlg::Es256, now).unwrap().len(), 1);
        let keys = dir
            .ensure(&env, SigningAlg::EdDsa, now + time::Duration::seconds(1))
            .unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.last().unwrap().key.alg(), SigningAlg::EdDsa);
    }
}

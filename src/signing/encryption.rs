//! Encryption keys (`KEYMINT_ENCRYPTION_KEYS`) and the sealing of signing keys at rest.
//!
//! An entry is `ID:KEY`, `KEY` being 32 random bytes in base64url without padding; the
//! first entry seals, every entry opens. Sealing is AES-256-GCM with a fresh random
//! 96-bit nonce, and the key's `kid`, environment and algorithm as associated data, so
//! a sealed key moved to another row, environment or algorithm no longer opens.

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Name of the file generated in the keys directory when the variable is unset.
pub const FILE_NAME: &str = "encryption-keys";

const KEY_LEN: usize = 32;
const MAX_ID_LEN: usize = 32;

/// The configured encryption keys. `Debug` shows the ids only.
#[derive(Clone)]
pub struct EncryptionKeys {
    entries: Arc<[Entry]>,
}

struct Entry {
    id: String,
    key: RandomizedNonceKey,
}

/// What a sealed signing key is bound to (the associated data).
#[derive(Debug, Clone, Copy)]
pub struct KeyLabel<'a> {
    /// The key's `kid`.
    pub kid: &'a str,
    /// Its environment.
    pub environment: &'a str,
    /// Its algorithm (`ES256`, ...).
    pub alg: &'a str,
}

impl KeyLabel<'_> {
    fn aad(&self) -> Vec<u8> {
        format!(
            "keymint signing key v1\n{}\n{}\n{}",
            self.kid, self.environment, self.alg
        )
        .into_bytes()
    }
}

/// A sealed private key: which entry sealed it, the nonce, ciphertext and tag.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Id of the entry that sealed it.
    pub key_id: String,
    /// The 96-bit nonce.
    pub nonce: Vec<u8>,
    /// Ciphertext followed by the 128-bit tag.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// Why a sealed key did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// No configured entry has the id it was sealed under.
    #[error("it was encrypted under encryption key id {0:?}, which this instance does not have")]
    UnknownKeyId(String),
    /// The entry with that id is not the key it was sealed with, or the row was altered.
    #[error(
        "it does not decrypt with encryption key {0:?}: that entry holds other bytes than the key it was encrypted with, or the stored row was altered"
    )]
    Rejected(String),
}

/// A malformed `KEYMINT_ENCRYPTION_KEYS` value (or key file). Never contains key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidKeys(String);

impl EncryptionKeys {
    /// Parses comma-separated `ID:KEY` entries.
    pub fn parse(text: &str) -> Result<Self, InvalidKeys> {
        let mut entries: Vec<Entry> = Vec::new();
        for (position, raw) in text.split(',').map(str::trim).enumerate() {
            let position = position + 1;
            let Some((id, key)) = raw.split_once(':') else {
                return Err(InvalidKeys(format!(
                    "entry {position} is not ID:KEY (generate one with `keymint encryption-keys generate`)"
                )));
            };
            let id_ok = (1..=MAX_ID_LEN).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok {
                return Err(InvalidKeys(format!(
                    "entry {position}: the id must be 1 to {MAX_ID_LEN} characters of A-Z a-z 0-9 - _"
                )));
            }
            if entries.iter().any(|e| e.id == id) {
                return Err(InvalidKeys(format!("the id {id:?} appears twice")));
            }
            let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(key).unwrap_or_default());
            if bytes.len() != KEY_LEN {
                return Err(InvalidKeys(format!(
                    "entry {id:?}: the key must be {KEY_LEN} bytes in base64url without padding (43 characters)"
                )));
            }
            let key = RandomizedNonceKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| InvalidKeys(format!("entry {id:?}: not an AES-256 key")))?;
            entries.push(Entry {
                id: id.to_owned(),
                key,
            });
        }
        Ok(Self {
            entries: entries.into(),
        })
    }

    /// A fresh entry, `ek_<8 random characters>:<32 random bytes>`.
    pub fn generate_entry() -> String {
        let mut id = [0u8; 6];
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        // The OS generator failing is not something to run on.
        aws_lc_rs::rand::fill(&mut id).expect("system random generator");
        aws_lc_rs::rand::fill(key.as_mut()).expect("system random generator");
        format!(
            "ek_{}:{}",
            URL_SAFE_NO_PAD.encode(id),
            URL_SAFE_NO_PAD.encode(key.as_ref())
        )
    }

    /// The id of the entry that seals.
    pub fn sealing_id(&self) -> &str {
        &self.entries[0].id
    }

    /// True when an entry has this id.
    pub fn has(&self, id: &str) -> bool {
        self.entries.iter().any(|e| e.id == id)
    }

    /// Seals a private key (PKCS#8 DER) under the first entry.
    pub fn seal(&self, label: KeyLabel<'_>, plaintext: &[u8]) -> Sealed {
        let entry = &self.entries[0];
        let mut in_out = plaintext.to_vec();
        // Fails only on an internal error of the library with a key it accepted.
        let nonce = entry
            .key
            .seal_in_place_append_tag(Aad::from(label.aad()), &mut in_out)
            .expect("AES-256-GCM sealing");
        Sealed {
            key_id: entry.id.clone(),
            nonce: nonce.as_ref().to_vec(),
            ciphertext: in_out,
        }
    }

    /// Opens a sealed key, checking it is bound to `label`.
    pub fn open(
        &self,
        label: KeyLabel<'_>,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let entry = self
            .entries
            .iter()
            .find(|e| e.id == sealed.key_id)
            .ok_or_else(|| OpenError::UnknownKeyId(sealed.key_id.clone()))?;
        let rejected = || OpenError::Rejected(sealed.key_id.clone());
        let nonce = Nonce::try_assume_unique_for_key(&sealed.nonce).map_err(|_| rejected())?;
        let mut in_out = Zeroizing::new(sealed.ciphertext.clone());
        let plain_len = entry
            .key
            .open_in_place(nonce, Aad::from(label.aad()), &mut in_out)
            .map_err(|_| rejected())?
            .len();
        in_out.truncate(plain_len);
        Ok(in_out)
    }
}

impl fmt::Debug for EncryptionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.entries.iter().map(|e| e.id.as_str()).collect();
        f.debug_struct("EncryptionKeys")
            .field("ids", &ids)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABEL: KeyLabel<'static> = KeyLabel {
        kid: "kid-1",
        environment: "production",
        alg: "ES256",
    };

    #[test]
    fn the_first_entry_seals_and_every_entry_opens() {
        let old = EncryptionKeys::generate_entry();
        let new = EncryptionKeys::generate_entry();
        let before = EncryptionKeys::parse(&old).unwrap();
        let sealed = before.seal(LABEL, b"private");
        assert_ne!(sealed.ciphertext[..7], b"private"[..]);
        let both = EncryptionKeys::parse(&format!("{new}, {old}")).unwrap();
        assert_eq!(both.open(LABEL, &sealed).unwrap().as_slice(), b"private");
        let resealed = both.seal(LABEL, b"private");
        assert_eq!(resealed.key_id, both.sealing_id());
        let only_new = EncryptionKeys::parse(&new).unwrap();
        assert_eq!(
            only_new.open(LABEL, &sealed),
            Err(OpenError::UnknownKeyId(sealed.key_id.clone()))
        );
        assert!(only_new.open(LABEL, &resealed).is_ok());
    }

    #[test]
    fn tampering_or_another_label_or_other_key_bytes_are_rejected() {
        let entry = EncryptionKeys::generate_entry();
        let keys = EncryptionKeys::parse(&entry).unwrap();
        let sealed = keys.seal(LABEL, b"private");
        let rejected = Err(OpenError::Rejected(sealed.key_id.clone()));
        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        assert_eq!(keys.open(LABEL, &flipped), rejected);
        let sandbox = KeyLabel {
            environment: "sandbox",
            ..LABEL
        };
        assert_eq!(keys.open(sandbox, &sealed), rejected);
        let id = entry.split_once(':').unwrap().0;
        let impostor = EncryptionKeys::generate_entry();
        let impostor = format!("{id}:{}", impostor.split_once(':').unwrap().1);
        let impostor = EncryptionKeys::parse(&impostor).unwrap();
        assert_eq!(impostor.open(LABEL, &sealed), rejected);
    }

    #[test]
    fn malformed_values_are_named_without_their_bytes() {
        let key = EncryptionKeys::generate_entry();
        let secret = key.split_once(':').unwrap().1;
        for bad in [
            "nocolon".to_owned(),
            format!("bad id!:{secret}"),
            "ek:c2hvcnQ".to_owned(),
            format!("a:{secret},a:{secret}"),
        ] {
            let message = EncryptionKeys::parse(&bad).unwrap_err().to_string();
            assert!(!message.contains(secret), "{message}");
        }
        let debug = format!("{:?}", EncryptionKeys::parse(&key).unwrap());
        assert!(!debug.contains(secret) && debug.contains("ek_"), "{debug}");
    }
}

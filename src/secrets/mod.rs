//! Client ids and secrets: generation from the OS CSPRNG, argon2id hashing and
//! verification on a dedicated, bounded pool ([`SecretHasher`]), and the fast check tag
//! that refuses wrong secrets without argon2 ([`check_tag`]).

mod check;
mod hasher;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

use crate::domain::ClientId;

pub use check::{check_tag, may_match, tag_matches};
pub use hasher::{HashError, HasherStats, SecretHasher};

/// Prefix of every client id.
pub const CLIENT_ID_PREFIX: &str = "kmc_";
/// Prefix of every client secret, so secret scanners can recognise leaked ones:
/// `kms_` followed by 43 URL-safe base64 characters (256 bits).
pub const SECRET_PREFIX: &str = "kms_";

/// Random bytes from the OS CSPRNG, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // aws-lc's RNG is seeded from the OS; failure here means the OS has no entropy source.
    aws_lc_rs::rand::fill(&mut buf).expect("OS random number generator unavailable");
    URL_SAFE_NO_PAD.encode(&buf)
}

/// A new unguessable client id (128 bits).
pub fn new_client_id() -> ClientId {
    ClientId::new(format!("{CLIENT_ID_PREFIX}{}", random_token(16)))
}

/// A new client secret (256 bits).
pub fn new_client_secret() -> ClientSecret {
    ClientSecret(format!("{SECRET_PREFIX}{}", random_token(32)))
}

/// A client secret in clear text. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret presented by a client.
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The clear text; call only to hash it or to show it once to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its last four characters, which the console shows (`kms_…WXYZ`) so that people can
    /// tell secrets apart. Of a 256-bit secret they reveal 24 bits, leaving 232.
    pub fn hint(&self) -> String {
        let start = self.0.char_indices().rev().nth(3).map_or(0, |(i, _)| i);
        self.0[start..].to_owned()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_secrets_are_url_safe_and_prefixed() {
        let id = new_client_id();
        let secret = new_client_secret();
        assert!(id.as_str().starts_with(CLIENT_ID_PREFIX));
        assert_eq!(id.as_str().len(), CLIENT_ID_PREFIX.len() + 22);
        assert!(secret.expose().starts_with(SECRET_PREFIX));
        // 32 bytes = 256 bits -> 43 base64 characters.
        assert_eq!(secret.expose().len(), SECRET_PREFIX.len() + 43);
        let url_safe = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        assert!(url_safe(id.as_str()) && url_safe(secret.expose()));
        assert_ne!(new_client_secret(), secret);
        assert!(!format!("{secret:?}").contains(secret.expose()));
    }

    #[test]
    fn a_hint_is_the_last_four_characters() {
        let secret = new_client_secret();
        let hint = secret.hint();
        assert_eq!(hint.len(), 4);
        assert!(secret.expose().ends_with(&hint));
        assert_eq!(ClientSecret::new("ab".into()).hint(), "ab");
        assert_eq!(ClientSecret::new("kms_xyzé1234".into()).hint(), "1234");
        assert_eq!(ClientSecret::new("kms_xé12".into()).hint(), "xé12");
    }
}

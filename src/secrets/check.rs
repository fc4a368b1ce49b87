//! Check tags: a short, fast fingerprint of a client secret stored next to its argon2id
//! hash, so a wrong secret is refused in microseconds without argon2.
//!
//! Why this is safe: Keymint's secrets are 256 random bits. argon2id exists to slow down
//! guessing of *low-entropy* secrets from a stolen hash; against 2^256 candidates a fast
//! hash is as out of reach as a slow one, so a 64-bit SHA-256 tag stored beside the hash
//! gives an attacker with a copy of the database nothing they could use. An online
//! guesser never sees the tag; a random guess matches it with probability 2^-64, and then
//! argon2id (the verifier of record) still refuses it.

use aws_lc_rs::{constant_time, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::ClientSecret;
use crate::domain::StoredSecret;

/// Domain separation: a tag can never be confused with any other SHA-256 use.
const DOMAIN: &[u8] = b"keymint secret check v1\0";

/// The check tag of `secret`: 8 bytes of SHA-256(DOMAIN || secret), base64url (11 chars).
pub fn check_tag(secret: &ClientSecret) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(DOMAIN);
    ctx.update(secret.expose().as_bytes());
    URL_SAFE_NO_PAD.encode(&ctx.finish().as_ref()[..8])
}

/// True when `tag` is the check tag of `secret`, compared in constant time.
pub fn tag_matches(secret_tag: &str, stored: &str) -> bool {
    constant_time::verify_slices_are_equal(secret_tag.as_bytes(), stored.as_bytes()).is_ok()
}

/// Could `tag` (of a presented secret) be `stored`? A mismatching tag is a wrong secret
/// for sure; a matching or missing one leaves the decision to argon2id.
pub fn may_match(stored: &StoredSecret, tag: &str) -> bool {
    stored
        .check
        .as_deref()
        .is_none_or(|stored| tag_matches(tag, stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_short_stable_and_distinct() {
        let a = ClientSecret::new("kms_a".into());
        let b = ClientSecret::new("kms_b".into());
        assert_eq!(check_tag(&a).len(), 11);
        assert_eq!(check_tag(&a), check_tag(&a.clone()));
        assert_ne!(check_tag(&a), check_tag(&b));
        assert!(tag_matches(&check_tag(&a), &check_tag(&a)));
        assert!(!tag_matches(&check_tag(&a), &check_tag(&b)));
        assert!(!check_tag(&a).contains("kms_a"));
    }
}

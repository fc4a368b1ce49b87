//! `KEYMINT_SCIM_TOKEN`: the bearer token directories present. Kept only as its SHA-256
//! digest and compared in constant time; `Debug` never shows it.

use aws_lc_rs::digest::{SHA256, digest};
use std::fmt;

/// Shortest token accepted: directories generate long random tokens, and a short one
/// could be guessed.
pub const MIN_LEN: usize = 16;

/// The SCIM bearer token.
#[derive(Clone)]
pub struct ScimToken([u8; 32]);

impl ScimToken {
    /// Takes a token of at least [`MIN_LEN`] visible ASCII characters.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() >= MIN_LEN && text.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(hash(text.as_bytes())))
    }

    /// True when `presented` is the token (constant time in its content).
    pub fn matches(&self, presented: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(&hash(presented.as_bytes()), &self.0)
            .is_ok()
    }
}

fn hash(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

impl fmt::Debug for ScimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScimToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_matches_and_debug_hides_it() {
        let token = ScimToken::parse("s3cr3t-scim-token-0123").unwrap();
        assert!(token.matches("s3cr3t-scim-token-0123"));
        assert!(!token.matches("s3cr3t-scim-token-0124"));
        assert!(!token.matches(""));
        assert!(!format!("{token:?}").contains("s3cr3t"));
        assert!(ScimToken::parse("short").is_none());
        assert!(ScimToken::parse("has a space in it, long enough").is_none());
    }
}

//! Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")).

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::fmt;

/// Accepted clock difference between sender and Keymint, both ways.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// The shared secret (`whsec_` + base64). `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Parses `whsec_<base64>`.
    pub fn parse(text: &str) -> Option<Self> {
        let key = STANDARD.decode(text.strip_prefix("whsec_")?).ok()?;
        (!key.is_empty()).then_some(Self(key))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// `webhook-timestamp` is not a Unix time in seconds.
    #[error("webhook-timestamp must be Unix seconds")]
    BadTimestamp,
    /// Older or newer than the tolerance: possibly a replay.
    #[error("webhook-timestamp is more than 5 minutes away from now")]
    Stale,
    /// No `v1` signature in the header matches.
    #[error("no webhook-signature matches")]
    Mismatch,
}

/// The `v1,<base64>` signature of a delivery.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &secret.0);
    let tag = hmac::sign(&key, &signed_content(id, timestamp, body));
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

/// Verifies a delivery. `signatures` is the `webhook-signature` header: space-separated
/// `version,signature` pairs, any matching `v1` accepted.
pub fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    body: &[u8],
    signatures: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    // abs_diff: a timestamp of i64::MIN must be "stale", not an overflow.
    if now.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, &secret.0);
    let content = signed_content(id, timestamp, body);
    let matched = signatures
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
        // hmac::verify compares in constant time.
        .any(|sig| hmac::verify(&key, &content, &sig).is_ok());
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn signed_content(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    content
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_test_vector() {
        // The specification's example: secret, id, timestamp, payload and signature.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(
            sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            expected
        );
        let header = format!("v1,bm90IGl0 {expected}");
        assert!(
            verify(
                &secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330",
                body,
                &header,
                1614265330
            )
            .is_ok()
        );
    }

    #[test]
    fn extreme_timestamps_are_stale_not_an_overflow() {
        let secret = WebhookSecret::parse("whsec_c2VjcmV0").unwrap();
        for ts in [i64::MIN, i64::MAX] {
            let sig = sign(&secret, "id", ts, b"{}");
            let checked = verify(&secret, "id", &ts.to_string(), b"{}", &sig, 1_800_000_000);
            assert!(matches!(checked, Err(SignatureError::Stale)), "{ts}");
        }
        let sig = sign(&secret, "id", 0, b"{}");
        assert!(matches!(
            verify(&secret, "id", "0", b"{}", &sig, i64::MIN),
            Err(SignatureError::Stale)
        ));
    }

    #[test]
    fn refuses_stale_and_wrong_signatures() {
        let secret = WebhookSecret::parse("whsec_c2VjcmV0").unwrap();
        let sig = sign(&secret, "id", 1000, b"{}");
        assert_eq!(
            verify(&secret, "id", "1000", b"{}", &sig, 1000 + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(&secret, "id", "1000", b"{}", &sig, 1000 - 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(&secret, "id", "1000", b"{ }", &sig, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&secret, "other", "1000", b"{}", &sig, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&secret, "id", "soon", b"{}", &sig, 1000),
            Err(SignatureError::BadTimestamp)
        );
        assert!(WebhookSecret::parse("c2VjcmV0").is_none());
        assert!(!format!("{secret:?}").contains("c2VjcmV0"));
    }
}

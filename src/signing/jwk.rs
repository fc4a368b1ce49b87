//! Public JWKs (RFC 7517/7518/8037) and their RFC 7638 thumbprints.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The public parts of a key, enough to build its JWK.
pub enum PublicParts<'a> {
    /// P-256 point, uncompressed (0x04 || x || y).
    P256 { point: &'a [u8] },
    /// RSA modulus and exponent, big-endian without leading zeros.
    Rsa { n: &'a [u8], e: &'a [u8] },
    /// Ed25519 public key.
    Ed25519 { x: &'a [u8] },
}

impl PublicParts<'_> {
    /// The required members only, in lexicographic order: the thumbprint input
    /// (RFC 7638 §3.2) and the base of the published JWK.
    fn required_members(&self) -> Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        match self {
            Self::P256 { point } => {
                let (x, y) = point[1..].split_at(32);
                json!({"crv": "P-256", "kty": "EC", "x": b64(x), "y": b64(y)})
            }
            Self::Rsa { n, e } => json!({"e": b64(e), "kty": "RSA", "n": b64(n)}),
            Self::Ed25519 { x } => json!({"crv": "Ed25519", "kty": "OKP", "x": b64(x)}),
        }
    }

    /// RFC 7638 thumbprint with SHA-256, base64url: used as `kid`.
    pub fn thumbprint(&self) -> String {
        // serde_json's default map is ordered by key and prints without whitespace,
        // which is exactly the canonical form RFC 7638 §3 asks for.
        let canonical = self.required_members().to_string();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    }

    /// The published JWK: required members plus `kid`, `alg` and `use`.
    pub fn jwk(&self, kid: &str, alg: &str) -> Value {
        let mut jwk = self.required_members();
        if let Value::Object(map) = &mut jwk {
            map.insert("kid".into(), kid.into());
            map.insert("alg".into(), alg.into());
            map.insert("use".into(), "sig".into());
        }
        jwk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1: the example key and its thumbprint.
        let n = URL_SAFE_NO_PAD
            .decode("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
            .unwrap();
        let e = URL_SAFE_NO_PAD.decode("AQAB").unwrap();
        let parts = PublicParts::Rsa { n: &n, e: &e };
        assert_eq!(
            parts.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}

//! One signing key: parsed once from PKCS#8, signs with no per-call parsing.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::fmt;

use super::SigningAlg;
use super::jwk::PublicParts;

enum Pair {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

/// A private signing key with its `kid` (RFC 7638 thumbprint) and public JWK.
pub struct SigningKey {
    pair: Pair,
    kid: String,
    jwk: Value,
    /// The JWS header of its tokens, base64url-encoded once (it never changes).
    encoded_header: String,
    /// The public key as the verifier wants it, parsed once from the JWK.
    decoding: Option<jsonwebtoken::DecodingKey>,
    rng: SystemRandom,
}

/// The PKCS#8 data is not a key Keymint can sign with.
#[derive(Debug, thiserror::Error)]
#[error("not a PKCS#8 P-256, RSA or Ed25519 private key")]
pub struct UnsupportedKey;

impl SigningKey {
    /// Generates a fresh key; returns it with its PKCS#8 DER encoding.
    pub fn generate(alg: SigningAlg) -> Result<(Self, Vec<u8>), UnsupportedKey> {
        use aws_lc_rs::encoding::AsDer;
        let der = match alg {
            SigningAlg::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map(|d| d.as_ref().to_vec()),
            SigningAlg::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|k| k.as_der())
                .map(|d| d.as_ref().to_vec()),
            SigningAlg::EdDsa => Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| UnsupportedKey)?;
        Ok((Self::from_pkcs8(&der)?, der))
    }

    /// Parses a PKCS#8 DER private key, recognising its algorithm.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, UnsupportedKey> {
        let pair = if let Ok(k) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            Pair::Es256(k)
        } else if let Ok(k) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            Pair::EdDsa(k)
        } else if let Ok(k) = RsaKeyPair::from_pkcs8(der) {
            Pair::Rs256(k)
        } else {
            return Err(UnsupportedKey);
        };
        let alg = alg_of(&pair);
        let (kid, jwk) = with_public_parts(&pair, |parts| {
            let kid = parts.thumbprint();
            let jwk = parts.jwk(&kid, alg.as_str());
            (kid, jwk)
        });
        let header = serde_json::json!({"alg": alg.as_str(), "typ": "at+jwt", "kid": kid});
        let encoded_header = URL_SAFE_NO_PAD.encode(header.to_string());
        let decoding = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(jwk.clone())
            .ok()
            .and_then(|jwk| jsonwebtoken::DecodingKey::from_jwk(&jwk).ok());
        Ok(Self {
            pair,
            kid,
            jwk,
            encoded_header,
            decoding,
            rng: SystemRandom::new(),
        })
    }

    /// `BASE64URL(UTF8(JWS Protected Header))` of its tokens (RFC 7515 §7.1):
    /// `{"alg", "typ": "at+jwt", "kid"}` (RFC 9068 §2.1).
    pub fn encoded_header(&self) -> &str {
        &self.encoded_header
    }

    /// The public key for verifying its signatures (`None` if the JWK did not parse,
    /// which a key Keymint generated or loaded never does).
    pub fn decoding_key(&self) -> Option<&jsonwebtoken::DecodingKey> {
        self.decoding.as_ref()
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> SigningAlg {
        alg_of(&self.pair)
    }

    /// RFC 7638 thumbprint, used as `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK as published in the JWKS.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// Signs `message`: the raw JWS signature (fixed r||s for ECDSA, RFC 7518 §3.4).
    /// ECDSA and EdDSA signatures stay on the stack; only RSA's needs a buffer.
    pub fn sign(&self, message: &[u8]) -> Signature {
        // aws-lc signing only fails on an internal error with a key it already accepted.
        let fixed = |sig: &[u8]| {
            let mut bytes = [0u8; 64];
            bytes[..sig.len()].copy_from_slice(sig);
            Signature::Fixed(bytes, sig.len())
        };
        match &self.pair {
            Pair::Es256(k) => fixed(
                k.sign(&self.rng, message)
                    .expect("ECDSA signing with a loaded key")
                    .as_ref(),
            ),
            Pair::Rs256(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .expect("RSA signing with a loaded key");
                Signature::Rsa(sig)
            }
            Pair::EdDsa(k) => fixed(k.sign(message).as_ref()),
        }
    }
}

/// A JWS signature: 64 bytes on the stack for ES256 and EdDSA, a buffer for RSA.
pub enum Signature {
    /// ECDSA P-256 (r||s) or Ed25519: the bytes and how many are used.
    Fixed([u8; 64], usize),
    /// RSA: as long as the modulus.
    Rsa(Vec<u8>),
}

impl AsRef<[u8]> for Signature {
    fn as_ref(&self) -> &[u8] {
        match self {
            Self::Fixed(bytes, len) => &bytes[..*len],
            Self::Rsa(bytes) => bytes,
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg())
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn alg_of(pair: &Pair) -> SigningAlg {
    match pair {
        Pair::Es256(_) => SigningAlg::Es256,
        Pair::Rs256(_) => SigningAlg::Rs256,
        Pair::EdDsa(_) => SigningAlg::EdDsa,
    }
}

fn with_public_parts<T>(pair: &Pair, f: impl FnOnce(PublicParts<'_>) -> T) -> T {
    match pair {
        Pair::Es256(k) => f(PublicParts::P256 {
            point: k.public_key().as_ref(),
        }),
        Pair::EdDsa(k) => f(PublicParts::Ed25519 {
            x: k.public_key().as_ref(),
        }),
        Pair::Rs256(k) => {
            let public = k.public_key();
            let n = public.modulus();
            let e = public.exponent();
            f(PublicParts::Rsa {
                n: n.big_endian_without_leading_zero(),
                e: e.big_endian_without_leading_zero(),
            })
        }
    }
}

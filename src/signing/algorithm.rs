//! JWS algorithms Keymint signs with.

use std::fmt;
use std::str::FromStr;

/// A JWS `alg` Keymint supports (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// ECDSA P-256 with SHA-256 (default).
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    Rs256,
    /// Ed25519.
    EdDsa,
}

/// An `alg` name Keymint does not sign with.
#[derive(Debug, thiserror::Error)]
#[error("unknown signing algorithm {0:?}: use ES256, RS256 or EdDSA")]
pub struct UnknownAlgorithm(pub String);

impl SigningAlg {
    /// The JWS `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }
}

impl FromStr for SigningAlg {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ES256" => Ok(Self::Es256),
            "RS256" => Ok(Self::Rs256),
            "EdDSA" => Ok(Self::EdDsa),
            other => Err(UnknownAlgorithm(other.to_owned())),
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

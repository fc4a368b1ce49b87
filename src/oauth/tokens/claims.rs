//! An access token's claims as read back from a verified token, and the part of them
//! the current-state check reads.

use serde::Deserialize;

/// Claims of a Keymint access token, as read back.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenClaims {
    /// Issuer.
    pub iss: String,
    /// Owner of the key.
    pub sub: String,
    /// Audience (a string, or an array per RFC 7519).
    pub aud: serde_json::Value,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Token id.
    pub jti: String,
    /// The key.
    pub client_id: String,
    /// Granted scope.
    #[serde(default)]
    pub scope: String,
    /// Granted permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Environment.
    pub env: String,
    /// Secret version (absent on tokens minted before Keymint added it).
    #[serde(default)]
    pub sv: Option<String>,
}

impl TokenClaims {
    /// What the current-state check reads.
    pub fn issued(&self) -> IssuedClaims<'_> {
        IssuedClaims {
            jti: &self.jti,
            client_id: &self.client_id,
            sub: &self.sub,
            sv: self.sv.as_deref(),
        }
    }

    /// True when `aud` is `audience` or an array holding it (RFC 7519 §4.1.3).
    pub fn has_audience(&self, audience: &str) -> bool {
        match &self.aud {
            serde_json::Value::String(aud) => aud == audience,
            serde_json::Value::Array(auds) => auds.iter().any(|a| a == audience),
            _ => false,
        }
    }
}

/// What the current-state check reads from a token whose signature was verified.
#[derive(Debug, Clone, Copy)]
pub struct IssuedClaims<'a> {
    /// Token id.
    pub jti: &'a str,
    /// The key.
    pub client_id: &'a str,
    /// The key's owner.
    pub sub: &'a str,
    /// Secret version, when the token carries one.
    pub sv: Option<&'a str>,
}

//! What an access token says (RFC 9068 §2.2 plus `permissions`, `env`, `sv` and
//! `status`): the template every token is written from.
//!
//! Every claim but `exp`, `iat`, `nbf` and `jti` is the same in all the tokens one
//! credential mints with its key's permissions and the default audience. A
//! [`ClaimsTemplate`] serialises and base64url-encodes those once; a token then costs
//! the encoding of its four varying claims (about 100 bytes, on the stack) and the
//! signature. The verified-secret cache keeps one template per cached credential, so it
//! lives exactly as long as the key state it was written from (every change to the key
//! or its owner drops both).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use crate::domain::Permissions;
use crate::signing::{SigningKey, sign_encoded};
use crate::status_list::StatusClaim;

/// The claims every token of one credential, permission set and audience shares (the
/// others, `exp`, `iat`, `nbf` and `jti`, are written per token by [`ClaimsTemplate::sign`]).
#[derive(Debug, Serialize)]
pub struct FixedClaims<'a> {
    /// Issuer of the environment.
    pub iss: &'a str,
    /// Owner of the key.
    pub sub: &'a str,
    /// Audience.
    pub aud: &'a str,
    /// The key's client id.
    pub client_id: &'a str,
    /// Granted scope, space-separated.
    pub scope: &'a str,
    /// Granted permissions.
    pub permissions: &'a Permissions,
    /// Environment name.
    pub env: &'a str,
    /// The secret version, absent for a client that signed an assertion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sv: Option<&'a str>,
    /// The credential's status-list entry.
    pub status: StatusClaim<'a>,
}

/// Where a cached credential keeps its template, written by its first token.
pub type TemplateSlot = OnceLock<ClaimsTemplate>;

/// A new, empty slot (one per verified-cache entry).
pub fn template_slot() -> Arc<TemplateSlot> {
    Arc::new(OnceLock::new())
}

/// The fixed claims, serialised and encoded once. See the module documentation.
pub struct ClaimsTemplate {
    /// `{"iss":…,"status":{…},` with spaces after the comma up to a multiple of three
    /// bytes, base64url-encoded. Three bytes encode to four characters with nothing
    /// carried over, so the encoding of the varying claims can simply follow it: the
    /// result is the encoding of the whole payload (RFC 7515 §7.1).
    encoded_prefix: String,
    /// The granted scope, for the token response.
    scope: Arc<str>,
}

impl std::fmt::Debug for ClaimsTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimsTemplate")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The varying claims' longest JSON: three 20-character integers, a 64-character `jti`
/// and the punctuation.
const VARYING_MAX: usize = 192;

impl ClaimsTemplate {
    /// The template of `fixed`.
    pub fn new(fixed: &FixedClaims<'_>) -> Self {
        // Serialising borrowed strings and a set of strings cannot fail.
        let mut json = serde_json::to_vec(fixed).expect("claims serialise");
        // `{…}` becomes `{…,` and the varying claims close the object.
        json.pop();
        json.push(b',');
        while !json.len().is_multiple_of(3) {
            json.push(b' ');
        }
        Self {
            encoded_prefix: URL_SAFE_NO_PAD.encode(&json),
            scope: Arc::from(fixed.scope),
        }
    }

    /// The granted scope (space-separated).
    pub fn scope(&self) -> &Arc<str> {
        &self.scope
    }

    /// Signs one token: the fixed claims with `exp`, `iat` = `nbf`, and `jti`.
    pub fn sign(&self, key: &SigningKey, iat: i64, exp: i64, jti: &str) -> String {
        let mut varying = [0u8; VARYING_MAX];
        let mut cursor = &mut varying[..];
        // `jti` is base64url from Keymint's generator (nothing to escape); a longer one
        // than fits is a programming error caught by the tests.
        write!(
            cursor,
            r#""exp":{exp},"iat":{iat},"nbf":{iat},"jti":"{jti}"}}"#
        )
        .expect("varying claims fit their buffer");
        let written = VARYING_MAX - cursor.len();
        sign_encoded(key, &self.encoded_prefix, &varying[..written])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn a_templated_token_says_what_the_full_claims_say() {
        let config = Config::from_lookup(|name| {
            (name == "KEYMINT_PUBLIC_URL").then(|| "https://keymint.example".to_owned())
        })
        .unwrap();
        let env = &config.environments[0];
        let (key, _) = SigningKey::generate(crate::signing::SigningAlg::Es256).unwrap();
        let permissions = Permissions::parse(["runs:read", "runs:write", "a/b"]).unwrap();
        for sv in [Some("c2VjcmV0"), None] {
            for sub_len in 0..3 {
                // Every padding length (0, 1, 2 spaces) appears as the owner's id grows.
                let sub = format!("alice{}", "x".repeat(sub_len));
                let template = ClaimsTemplate::new(&FixedClaims {
                    iss: &env.issuer,
                    sub: &sub,
                    aud: &env.audiences[0],
                    client_id: "kmc_AAAAAAAAAAAAAAAAAAAAAA",
                    scope: "a/b runs:read runs:write",
                    permissions: &permissions,
                    env: "production",
                    sv,
                    status: StatusClaim::new(env, 7),
                });
                let token = template.sign(&key, 1_800_000_000, 1_800_000_600, "jti-1");
                let payload = token.split('.').nth(1).unwrap();
                let got: serde_json::Value =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
                // RFC 9068 §2.2 and Keymint's claims, as the contract lists them.
                let mut want = serde_json::json!({
                    "iss": env.issuer,
                    "sub": sub,
                    "aud": env.audiences[0],
                    "exp": 1_800_000_600,
                    "iat": 1_800_000_000,
                    "nbf": 1_800_000_000,
                    "jti": "jti-1",
                    "client_id": "kmc_AAAAAAAAAAAAAAAAAAAAAA",
                    "scope": "a/b runs:read runs:write",
                    "permissions": ["a/b", "runs:read", "runs:write"],
                    "env": "production",
                    "status": {"status_list": {"idx": 7, "uri": env.first_status_list}},
                });
                if let Some(sv) = sv {
                    want["sv"] = sv.into();
                }
                assert_eq!(got, want);
                assert_eq!(&**template.scope(), "a/b runs:read runs:write");
            }
        }
    }
}

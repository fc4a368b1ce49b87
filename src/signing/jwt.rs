//! Compact JWS serialisation (RFC 7515 §7.1) of access tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::SigningKey;

/// Signs `claims` as a JWT with header `{"alg", "typ": "at+jwt", "kid"}` (RFC 9068 §2.1).
/// The header is encoded once per signing key; the claims are serialised into one buffer.
pub fn sign_jwt(key: &SigningKey, claims: &impl Serialize) -> Result<String, serde_json::Error> {
    let mut json = Vec::with_capacity(512);
    serde_json::to_writer(&mut json, claims)?;
    let header = key.encoded_header();
    // Header, payload and an ECDSA signature, base64url; RSA's is longer and reallocates.
    let mut token = String::with_capacity(header.len() + json.len() * 4 / 3 + 100);
    token.push_str(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&json, &mut token);
    let signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

//! Compact JWS serialisation (RFC 7515 §7.1) of access tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::SigningKey;

/// Signs `claims` as a JWT with header `{"alg", "typ": "at+jwt", "kid"}` (RFC 9068 §2.1).
pub fn sign_jwt(key: &SigningKey, claims: &impl Serialize) -> Result<String, serde_json::Error> {
    let mut json = Vec::with_capacity(512);
    serde_json::to_writer(&mut json, claims)?;
    Ok(sign_encoded(key, "", &json))
}

/// Signs an access token whose payload is `encoded_prefix` (base64url of its first bytes,
/// a multiple of three of them, so it ends on a whole group) followed by `payload_tail`:
/// `header.prefix+BASE64URL(tail).signature` (RFC 7515 §7.1). The header is encoded once
/// per signing key; the token is written into one buffer.
pub fn sign_encoded(key: &SigningKey, encoded_prefix: &str, payload_tail: &[u8]) -> String {
    debug_assert!(
        encoded_prefix.len().is_multiple_of(4),
        "whole base64 groups"
    );
    let header = key.encoded_header();
    // Header, payload and an ECDSA signature, base64url; RSA's is longer and reallocates.
    let mut token = String::with_capacity(
        header.len() + encoded_prefix.len() + payload_tail.len() * 4 / 3 + 100,
    );
    token.push_str(header);
    token.push('.');
    token.push_str(encoded_prefix);
    URL_SAFE_NO_PAD.encode_string(payload_tail, &mut token);
    let signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    token
}

/// Signs `claims` as a JWT with header `{"alg", "typ": typ, "kid"}`: for documents other
/// than access tokens (a status list is `statuslist+jwt`), built rarely, so the header is
/// encoded per call.
pub fn sign_typed_jwt(
    key: &SigningKey,
    typ: &str,
    claims: &impl Serialize,
) -> Result<String, serde_json::Error> {
    let header = serde_json::json!({"alg": key.alg().as_str(), "typ": typ, "kid": key.kid()});
    let mut token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims)?, &mut token);
    let signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

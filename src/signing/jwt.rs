//! Compact JWS serialisation (RFC 7515 §7.1) of access tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::SigningKey;

/// Signs `claims` as a JWT with header `{"alg", "typ": "at+jwt", "kid"}` (RFC 9068 §2.1).
pub fn sign_jwt(key: &SigningKey, claims: &impl Serialize) -> Result<String, serde_json::Error> {
    let header = serde_json::json!({"alg": key.alg().as_str(), "typ": "at+jwt", "kid": key.kid()});
    let mut token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims)?, &mut token);
    let signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

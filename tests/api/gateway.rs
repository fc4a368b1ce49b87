//! A gateway's view of Keymint: discover metadata, fetch the JWKS, and validate a token
//! with an independent JOSE library (jsonwebtoken), never with Keymint's own keys.

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, ThumbprintHash};
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

use crate::app::TestApp;

/// Validates `token` for environment `env` as a gateway would and returns its claims.
pub async fn verify(app: &TestApp, env: &str, token: &str) -> Result<Value, String> {
    verify_for_audience(app, env, token, None).await
}

/// Like [`verify`], for a gateway configured with `audience` (default: the issuer).
pub async fn verify_for_audience(
    app: &TestApp,
    env: &str,
    token: &str,
    audience: Option<&str>,
) -> Result<Value, String> {
    let metadata: Value = app
        .http
        .get(app.url(&format!("/.well-known/oauth-authorization-server/{env}")))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let issuer = metadata["issuer"]
        .as_str()
        .ok_or("metadata has no issuer")?
        .to_owned();
    let jwks_uri = metadata["jwks_uri"]
        .as_str()
        .ok_or("metadata has no jwks_uri")?;
    let jwks: JwkSet = app
        .http
        .get(jwks_uri)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    check(&jwks, &issuer, audience.unwrap_or(&issuer), env, token)
}

/// Validates `token` against `jwks` for `issuer` and `audience`, as a gateway configured
/// with them does (the JWKS may come from any instance behind the gateway's URL).
pub fn check(
    jwks: &JwkSet,
    issuer: &str,
    audience: &str,
    env: &str,
    token: &str,
) -> Result<Value, String> {
    let header = decode_header(token).map_err(|e| format!("header: {e}"))?;
    if header.typ.as_deref() != Some("at+jwt") {
        return Err(format!("typ is {:?}, RFC 9068 requires at+jwt", header.typ));
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks.find(&kid).ok_or("kid not in the JWKS")?;
    if let AlgorithmParameters::EllipticCurve(_) | AlgorithmParameters::RSA(_) = jwk.algorithm {
        let thumbprint = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| e.to_string())?;
        if thumbprint != kid {
            return Err("kid is not the RFC 7638 thumbprint".into());
        }
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("jwk: {e}"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
    validation.validate_nbf = true;
    let claims = decode::<Value>(token, &key, &validation)
        .map_err(|e| format!("validation: {e}"))?
        .claims;
    if claims["env"] != env {
        return Err(format!("env claim is {}", claims["env"]));
    }
    for required in ["iat", "jti", "client_id", "scope", "permissions"] {
        if claims.get(required).is_none() {
            return Err(format!("claim {required} missing"));
        }
    }
    Ok(claims)
}

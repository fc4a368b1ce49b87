//! Checks an access token the way a gateway does, with an independent JOSE library:
//! fetch the issuer's RFC 8414 metadata, fetch its JWKS, verify signature, `typ`, `iss`,
//! `aud`, `exp`/`nbf` and `env`, then print the claims.
//!
//! `cargo run -q --example verify_token -- ISSUER_URL TOKEN [AUDIENCE]`

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [issuer, token, rest @ ..] = args.as_slice() else {
        return Err("usage: verify_token ISSUER_URL TOKEN [AUDIENCE]".into());
    };
    let audience = rest.first().unwrap_or(issuer);
    let (base, env) = issuer
        .trim_end_matches('/')
        .rsplit_once('/')
        .ok_or("issuer must end with /<env>")?;
    let http = reqwest::blocking::Client::new();
    let metadata: Value = http
        .get(format!(
            "{base}/.well-known/oauth-authorization-server/{env}"
        ))
        .send()?
        .error_for_status()?
        .json()?;
    if metadata["issuer"] != issuer.as_str() {
        return Err(format!("metadata names issuer {}", metadata["issuer"]).into());
    }
    let jwks_uri = metadata["jwks_uri"]
        .as_str()
        .ok_or("metadata has no jwks_uri")?;
    let jwks: JwkSet = http.get(jwks_uri).send()?.error_for_status()?.json()?;

    let header = decode_header(token)?;
    if header.typ.as_deref() != Some("at+jwt") {
        return Err("not an RFC 9068 access token (typ must be at+jwt)".into());
    }
    let kid = header.kid.ok_or("token has no kid")?;
    let jwk = jwks.find(&kid).ok_or("kid not in the issuer's JWKS")?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.validate_nbf = true;
    let claims = decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims;
    if claims["env"] != env {
        return Err(format!("env claim {} does not match {env}", claims["env"]).into());
    }
    println!("valid {:?} token, kid {kid}", header.alg);
    println!("{}", serde_json::to_string_pretty(&claims)?);
    Ok(())
}

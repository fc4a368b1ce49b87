//! Who is calling the management API: `Authorization: Bearer <token>`, either an access
//! token of this environment (verified as a gateway would, then checked against the key's
//! current state) or, when configured, a user session token of the identity provider.

use axum::http::{HeaderMap, header};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::{ClientId, EnvironmentName, Permissions, UserId};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user acting (the token's `sub`).
    pub user: UserId,
    /// What this caller may do: the token's permissions for an access token, the user's
    /// current permissions for a session token.
    pub permissions: Permissions,
    /// The user's current permissions (the ceiling of new keys).
    pub user_permissions: Permissions,
    /// Set when the caller acts through an API key.
    pub client_id: Option<ClientId>,
}

impl Caller {
    /// Holders of `admin` manage every key of the environment.
    pub fn is_admin(&self) -> bool {
        self.permissions.contains("admin")
    }
}

/// Why a caller is not authenticated (sent as `UNAUTHENTICATED`).
#[derive(Debug, Clone)]
pub struct AuthFailure(pub String);

#[derive(Deserialize)]
struct AccessClaims {
    sub: String,
    client_id: String,
    env: String,
    #[serde(default)]
    permissions: Vec<String>,
}

/// Resolves the caller of a request; never fails the request itself.
pub async fn authenticate(
    state: &AppState,
    env: &EnvironmentName,
    headers: &HeaderMap,
) -> Result<Caller, AuthFailure> {
    let fail = |m: &str| AuthFailure(m.to_owned());
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| fail("send Authorization: Bearer <token>"))?;
    let value = value
        .to_str()
        .map_err(|_| fail("malformed Authorization header"))?;
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(fail("send Authorization: Bearer <token>")),
    };
    let header = decode_header(token).map_err(|_| fail("malformed token"))?;
    let keys = state
        .keys
        .get(env)
        .ok_or_else(|| fail("unknown environment"))?;
    let ours = header
        .kid
        .as_deref()
        .and_then(|kid| keys.published.iter().find(|k| k.kid() == kid));
    match (ours, &state.user_tokens) {
        (Some(key), _) => access_token(state, env, token, &header, key.public_jwk()).await,
        (None, Some(verifier)) => {
            let sub = verifier
                .verify(token)
                .await
                .map_err(|e| AuthFailure(format!("session token refused: {e}")))?;
            let user_id =
                UserId::parse(&sub).ok_or_else(|| fail("session token has an invalid sub"))?;
            let user = state
                .store
                .get_user(&user_id)
                .await
                .map_err(|_| fail("unknown user"))?;
            if !user.active {
                return Err(fail("user is inactive"));
            }
            Ok(Caller {
                user: user.id,
                permissions: user.permissions.clone(),
                user_permissions: user.permissions,
                client_id: None,
            })
        }
        (None, None) => Err(fail("token not issued by this environment")),
    }
}

async fn access_token(
    state: &AppState,
    env: &EnvironmentName,
    token: &str,
    header: &jsonwebtoken::Header,
    jwk: &serde_json::Value,
) -> Result<Caller, AuthFailure> {
    let fail = |m: &str| AuthFailure(m.to_owned());
    // RFC 9068 §4: the typ header MUST be checked to tell access tokens from other JWTs.
    if header.typ.as_deref() != Some("at+jwt") {
        return Err(fail("not an access token (typ must be at+jwt)"));
    }
    let jwk: Jwk = serde_json::from_value(jwk.clone()).map_err(|_| fail("signing key unusable"))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| fail("signing key unusable"))?;
    let alg: Algorithm = jwk
        .common
        .key_algorithm
        .and_then(|a| a.to_string().parse().ok())
        .ok_or_else(|| fail("signing key unusable"))?;
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[state.config.issuer(env)]);
    validation.set_audience(&state.config.audiences(env));
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    let claims = decode::<AccessClaims>(token, &key, &validation)
        .map_err(|e| AuthFailure(format!("invalid token: {e}")))?
        .claims;
    if claims.env != env.as_str() {
        return Err(fail("token of another environment"));
    }
    // The token may outlive the key's state: refuse tokens of keys since disabled,
    // deleted or expired, and of owners since deactivated.
    let client_id = ClientId::new(claims.client_id);
    let creds = state
        .store
        .find_credentials(&client_id)
        .await
        .map_err(|_| fail("temporarily unable to check the token's key"))?
        .ok_or_else(|| fail("the token's key was deleted"))?;
    let now = state.clock.now();
    if !creds.key.enabled
        || creds.key.is_expired(now)
        || !creds.owner_active
        || creds.key.environment != *env
    {
        return Err(fail(
            "the token's key is disabled, expired or its owner inactive",
        ));
    }
    if creds.key.owner_id.as_str() != claims.sub {
        return Err(fail("token subject does not own its key"));
    }
    let permissions =
        Permissions::parse(&claims.permissions).map_err(|_| fail("invalid permissions claim"))?;
    let user = state
        .store
        .get_user(&creds.key.owner_id)
        .await
        .map_err(|_| fail("unknown user"))?;
    Ok(Caller {
        user: user.id,
        permissions,
        user_permissions: user.permissions,
        client_id: Some(client_id),
    })
}

//! Who is calling the management API: `Authorization: Bearer <token>`, either an access
//! token of this environment (verified as a gateway would, then checked against the key's
//! current state) or, when configured, a user session token of the identity provider.

use axum::http::{HeaderMap, header};
use jsonwebtoken::decode_header;

use super::GraphqlState;
use crate::domain::{EnvironmentName, Permissions, UserId};
pub use crate::manage::access::Caller;

/// Why a caller is not authenticated: `UNAUTHENTICATED`, or `UNAVAILABLE` when the
/// database could not be asked (nothing is known to be wrong with the credentials).
#[derive(Debug, Clone)]
pub struct AuthFailure(pub String, pub bool);

impl AuthFailure {
    fn unavailable() -> Self {
        Self(
            "temporarily unable to check the credentials, retry shortly".into(),
            true,
        )
    }

    /// The GraphQL error for this failure.
    pub fn to_graphql(&self) -> async_graphql::Error {
        if self.1 {
            super::errors::coded("UNAVAILABLE", self.0.clone())
        } else {
            super::errors::unauthenticated(self.0.clone())
        }
    }
}

impl From<crate::oauth::Inactive> for AuthFailure {
    fn from(e: crate::oauth::Inactive) -> Self {
        Self(e.reason, e.unavailable)
    }
}

/// Resolves the caller of a request; never fails the request itself.
pub async fn authenticate(
    state: &GraphqlState,
    env: &EnvironmentName,
    headers: &HeaderMap,
) -> Result<Caller, AuthFailure> {
    let fail = |m: &str| AuthFailure(m.to_owned(), false);
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
        .tokens
        .keys
        .get(env)
        .ok_or_else(|| fail("unknown environment"))?;
    let ours = header
        .kid
        .as_deref()
        .and_then(|kid| keys.published.iter().find(|k| k.kid() == kid));
    match (ours, &state.user_tokens) {
        (Some(_), _) => access_token(state, env, token).await,
        (None, Some(verifier)) => {
            let sub = verifier
                .verify(token)
                .await
                .map_err(|e| AuthFailure(format!("session token refused: {e}"), false))?;
            let user_id =
                UserId::parse(&sub).ok_or_else(|| fail("session token has an invalid sub"))?;
            let user = state
                .management
                .store()
                .get_user(&user_id)
                .await
                .map_err(user_lookup)?;
            if !user.active {
                return Err(fail("user is inactive"));
            }
            Ok(Caller::user(user.id, user.permissions))
        }
        (None, None) => Err(fail("token not issued by this environment")),
    }
}

async fn access_token(
    state: &GraphqlState,
    env: &EnvironmentName,
    token: &str,
) -> Result<Caller, AuthFailure> {
    // Verified as a gateway would, then against the key's current state: tokens of keys
    // since disabled, deleted or expired, of owners since deactivated, revoked, or minted
    // with a replaced secret are refused.
    let claims = state.tokens.verify(env, token)?;
    // A token minted for a resource server (aud = that API) is not a management
    // credential: the management API is the issuer's own audience.
    let issuer = state.config.issuer(env);
    if !claims.has_audience(&issuer) {
        return Err(AuthFailure(
            format!(
                "the token's audience is not {issuer}: request a token with audience={issuer} to manage keys"
            ),
            false,
        ));
    }
    let creds = state.tokens.check_current(env, &claims).await?;
    let permissions = Permissions::parse(&claims.permissions)
        .map_err(|_| AuthFailure("invalid permissions claim".into(), false))?;
    let user = state
        .management
        .store()
        .get_user(&creds.key.owner_id)
        .await
        .map_err(user_lookup)?;
    Ok(Caller {
        user: user.id,
        permissions,
        user_permissions: user.permissions,
        client_id: Some(creds.key.client_id),
    })
}

/// A failed user lookup: unknown, or the database could not be asked.
fn user_lookup(e: crate::store::StoreError) -> AuthFailure {
    match e {
        crate::store::StoreError::NotFound => AuthFailure("unknown user".into(), false),
        _ => AuthFailure::unavailable(),
    }
}

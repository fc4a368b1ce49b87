//! Mutations: `createApiKey`, `updateApiKey`, `deleteApiKey`. Permissions `CreateAPIKey`,
//! `UpdateAPIKey`, `DeleteAPIKey` govern them; callers manage their own keys, `admin`
//! every key of the environment. No key can mint a key stronger than itself.

use async_graphql::{Context, Json, Object, Result};

use super::errors::{bad_input, forbidden, from_manage, not_found};
use super::types::{ApiKeyInput, ApiKeyNode, ApiKeyPayload, CreateApiKeyInput, FederationInput};
use super::{Caller, RequestContext};
use crate::domain::{
    Actor, AllowedIps, ApiKey, ChangeSource, ClientId, ClientKeys, KeyAuth, KeyEdit, Permissions,
    check_jwks_url, parse_client_jwks,
};
use crate::manage::access::Refusal;
use crate::manage::{CreateKey, KeyChangeRequest, Management};

#[derive(Default)]
pub struct MutationRoot;

fn caller<'a>(rc: &'a RequestContext, needs: &str) -> Result<&'a Caller> {
    let caller = rc.caller.as_ref().map_err(|e| e.to_graphql())?;
    caller.require(needs).map_err(refused)?;
    Ok(caller)
}

/// A refusal of the access rules as a GraphQL error.
pub(super) fn refused(refusal: Refusal) -> async_graphql::Error {
    match refusal {
        Refusal::Forbidden(message) => forbidden(message),
        Refusal::NotFound => not_found("no such API key"),
    }
}

pub(super) fn management(rc: &RequestContext, caller: &Caller) -> Management {
    let actor = Actor {
        source: ChangeSource::GraphQl,
        user: Some(caller.user.clone()),
        client_id: caller.client_id.clone(),
        operator: None,
    };
    rc.state
        .management
        .acting_as(actor, Some(rc.request_id.clone()))
}

/// The key named by the input, if the caller may manage it. Keys of other users and
/// other environments answer `NOT_FOUND`, so their existence does not leak.
async fn managed_key(rc: &RequestContext, caller: &Caller, client_id: &str) -> Result<ApiKey> {
    let key = rc
        .state
        .management
        .store()
        .get_key(&ClientId::new(client_id.to_owned()))
        .await
        .map_err(|e| from_manage(e.into()))?;
    caller.managed(key, &rc.environment).map_err(refused)
}

fn etag(input: &ApiKeyInput) -> Result<Option<String>> {
    match (&input.underscore_etag, &input.etag) {
        (Some(a), Some(b)) if a != b => Err(bad_input("_etag and etag differ")),
        (a, b) => Ok(a.clone().or_else(|| b.clone())),
    }
}

/// How a new key's clients authenticate, from `jwksUri` / `jwks` (neither: a secret).
fn key_auth(
    rc: &RequestContext,
    jwks_uri: Option<String>,
    jwks: Option<Json<serde_json::Value>>,
    federation: Option<&FederationInput>,
) -> Result<KeyAuth> {
    if let Some(federation) = federation {
        if jwks_uri.is_some() || jwks.is_some() {
            return Err(bad_input("give federation, jwksUri or jwks: one of them"));
        }
        let rule = federation.rule();
        rule.check().map_err(|e| bad_input(e.to_string()))?;
        if !rc.state.config.outbound_hosts.allows(&rule.issuer) {
            return Err(bad_input(
                "federation.issuer names a host outside KEYMINT_OUTBOUND_HOSTS",
            ));
        }
        return Ok(KeyAuth::Federated(rule));
    }
    match (jwks_uri, jwks) {
        (None, None) => Ok(KeyAuth::Secret),
        (Some(_), Some(_)) => Err(bad_input("give jwksUri or jwks, not both")),
        (Some(url), None) => {
            check_jwks_url(&url).map_err(|e| bad_input(e.to_string()))?;
            if !rc.state.config.outbound_hosts.allows(&url) {
                return Err(bad_input(
                    "jwksUri names a host outside KEYMINT_OUTBOUND_HOSTS",
                ));
            }
            Ok(KeyAuth::ClientKeys(ClientKeys::Url(url)))
        }
        (None, Some(Json(set))) => {
            let set = parse_client_jwks(&set.to_string()).map_err(|e| bad_input(e.to_string()))?;
            Ok(KeyAuth::ClientKeys(ClientKeys::Set(set)))
        }
    }
}

fn allowed_ips(list: &[String]) -> Result<AllowedIps> {
    AllowedIps::parse(list).map_err(|e| bad_input(format!("allowedIps: {e}")))
}

fn expiry(at: &str) -> Result<time::OffsetDateTime> {
    crate::clock::parse_rfc3339(at).map_err(|_| {
        bad_input("expiresAt must be an RFC 3339 date-time, e.g. 2027-01-31T00:00:00Z")
    })
}

#[Object]
impl MutationRoot {
    /// Creates a key for the caller. Its permissions are the caller's current ones, narrowed
    /// to the calling token's permissions when the caller is a key, or the subset asked for.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: Option<CreateApiKeyInput>,
    ) -> Result<ApiKeyPayload> {
        let rc = ctx.data::<RequestContext>()?;
        let caller = caller(rc, "CreateAPIKey")?;
        let input = input.unwrap_or_default();
        // No escalation: the ceiling is what the owner holds now, and, for a key caller,
        // only what that key itself holds.
        let asked = input
            .permissions
            .as_ref()
            .map(Permissions::parse)
            .transpose()
            .map_err(|e| bad_input(e.to_string()))?;
        let permissions = caller.grant(asked).map_err(refused)?;
        let expires_at = input.expires_at.as_deref().map(expiry).transpose()?;
        let auth = key_auth(rc, input.jwks_uri, input.jwks, input.federation.as_ref())?;
        let allowed_ips = allowed_ips(input.allowed_ips.as_deref().unwrap_or_default())?;
        let created = management(rc, caller)
            .create_key(CreateKey {
                owner_id: caller.user.clone(),
                environment: rc.environment.clone(),
                permissions: Some(permissions),
                name: input.name,
                expires_at,
                auth,
                allowed_ips,
            })
            .await
            .map_err(from_manage)?;
        let secret = created.secret.map(|s| s.expose().to_owned());
        Ok(ApiKeyPayload {
            apikey: ApiKeyNode::from_key(created.key, secret),
        })
    }

    /// Enables or disables a key, regenerates its secret, renames it or moves its expiry,
    /// in one transaction.
    async fn update_api_key(&self, ctx: &Context<'_>, input: ApiKeyInput) -> Result<ApiKeyPayload> {
        let rc = ctx.data::<RequestContext>()?;
        let caller = caller(rc, "UpdateAPIKey")?;
        let etag = etag(&input)?;
        let key = managed_key(rc, caller, &input.client_id).await?;
        let regenerate = input.regenerate_secret.unwrap_or(false);
        // No escalation through secrets: receiving a key's new secret is holding the key,
        // so only a caller whose ceiling covers the key's permissions may regenerate it.
        if regenerate {
            caller.may_receive_secret_of(&key).map_err(refused)?;
        }
        let edit = KeyEdit {
            name: input.name.as_opt_deref().map(|n| n.map(str::to_owned)),
            expires_at: match input.expires_at.as_opt_deref() {
                None => None,
                Some(at) => Some(at.map(expiry).transpose()?),
            },
            client_keys: match (input.jwks_uri, input.jwks) {
                (None, None) => None,
                (uri, set) => Some(key_auth(rc, uri, set, None)?),
            },
            allowed_ips: match input.allowed_ips.as_opt_deref() {
                None => None,
                Some(list) => Some(allowed_ips(list.unwrap_or_default())?),
            },
        };
        if input.enabled.is_none() && !regenerate && edit.is_empty() {
            if input.secret_grace_period_seconds.is_some() {
                return Err(bad_input("secretGracePeriodSeconds needs regenerateSecret"));
            }
            if etag.as_ref().is_some_and(|e| *e != key.etag) {
                return Err(from_manage(crate::manage::ManageError::Conflict));
            }
            return Ok(ApiKeyPayload {
                apikey: ApiKeyNode::from_key(key, None),
            });
        }
        let change = KeyChangeRequest {
            enabled: input.enabled,
            regenerate_secret: regenerate,
            grace: input
                .secret_grace_period_seconds
                .map(|s| time::Duration::seconds(i64::from(s))),
            edit,
        };
        let updated = management(rc, caller)
            .update_key(&key.client_id, change, etag)
            .await
            .map_err(from_manage)?;
        let secret = updated.secret.map(|s| s.expose().to_owned());
        Ok(ApiKeyPayload {
            apikey: ApiKeyNode::from_key(updated.key, secret),
        })
    }

    /// Deletes a key; `_etag` (or `etag`) is required.
    async fn delete_api_key(&self, ctx: &Context<'_>, input: ApiKeyInput) -> Result<ApiKeyPayload> {
        let rc = ctx.data::<RequestContext>()?;
        let caller = caller(rc, "DeleteAPIKey")?;
        let etag = etag(&input)?.ok_or_else(|| bad_input("_etag is required to delete a key"))?;
        let key = managed_key(rc, caller, &input.client_id).await?;
        let deleted = management(rc, caller)
            .delete_key(&key.client_id, Some(&etag))
            .await
            .map_err(from_manage)?;
        Ok(ApiKeyPayload {
            apikey: ApiKeyNode::from_key(deleted, None),
        })
    }
}

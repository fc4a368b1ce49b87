//! GraphQL object and input types.

use async_graphql::{InputObject, Json, MaybeUndefined, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::{ApiKey, AuditEvent, FederationRule};

use crate::clock::rfc3339;

/// An API key. `clientSecret` is set only in the answer to a create or a regeneration.
#[derive(SimpleObject)]
#[graphql(name = "APIKey")]
pub struct ApiKeyNode {
    /// Stable opaque id.
    pub id: String,
    /// Public client id.
    pub client_id: String,
    /// The secret, shown once; `null` in listings.
    pub client_secret: Option<String>,
    /// Disabled keys mint no tokens.
    pub enabled: bool,
    /// Changes on every update; send it back to update or delete (optimistic concurrency).
    #[graphql(name = "_etag")]
    pub etag: String,
    /// Label.
    pub name: Option<String>,
    /// Environment of the key.
    pub environment: String,
    /// Permissions frozen at creation.
    pub permissions: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Last successful token request, to the minute (RFC 3339).
    pub last_used_at: Option<String>,
    /// The client address of the last successful token request (as resolved through
    /// `KEYMINT_TRUSTED_PROXIES`).
    pub last_used_ip: Option<String>,
    /// Expiry (RFC 3339).
    pub expires_at: Option<String>,
    /// `manual`, `owner_deactivated` or `expired` while disabled.
    pub disabled_reason: Option<String>,
    /// The owner's user id.
    pub owner_id: String,
    /// The last four characters of the current secret, to tell secrets apart (`null` for
    /// keys made before hints were stored, and for keys without a secret). Never more of it.
    pub secret_hint: Option<String>,
    /// How the key's clients authenticate: `client_secret_basic` (also
    /// `client_secret_post`) or `private_key_jwt`.
    pub token_endpoint_auth_method: String,
    /// Where a `private_key_jwt` key's clients publish their public keys.
    pub jwks_uri: Option<String>,
    /// The registered public keys of a `private_key_jwt` key.
    pub jwks: Option<Json<serde_json::Value>>,
    /// The rule of a federated key.
    pub federation: Option<FederationInput>,
    /// The networks (CIDRs) its token requests may come from; empty: any address.
    pub allowed_ips: Vec<String>,
}

impl ApiKeyNode {
    /// A node without its secret.
    pub fn from_key(key: ApiKey, secret: Option<String>) -> Self {
        Self {
            id: key.id,
            client_id: key.client_id.to_string(),
            client_secret: secret,
            enabled: key.enabled,
            etag: key.etag,
            name: key.name,
            environment: key.environment.to_string(),
            permissions: key.permissions.iter().map(str::to_owned).collect(),
            created_at: rfc3339(key.created_at),
            updated_at: rfc3339(key.updated_at),
            last_used_at: key.last_used_at.map(rfc3339),
            last_used_ip: key.last_used_ip.map(|ip| ip.to_string()),
            expires_at: key.expires_at.map(rfc3339),
            disabled_reason: key.disabled_reason.map(|r| r.as_str().to_owned()),
            owner_id: key.owner_id.to_string(),
            secret_hint: key.secret_hint,
            token_endpoint_auth_method: key.auth.token_endpoint_auth_method().to_owned(),
            jwks_uri: key.auth.jwks_uri().map(str::to_owned),
            jwks: key
                .auth
                .jwks()
                .and_then(|set| serde_json::from_str(set).ok())
                .map(Json),
            federation: key.auth.federation().map(FederationInput::from_rule),
            allowed_ips: key.allowed_ips.to_strings(),
        }
    }
}

/// The answer to the three mutations.
#[derive(SimpleObject)]
#[graphql(name = "APIKeyPayload")]
pub struct ApiKeyPayload {
    /// The key (after the change; as it was, for a delete).
    pub apikey: ApiKeyNode,
}

/// Relay page information.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// More items follow.
    pub has_next_page: bool,
    /// Always false: pages only go forward.
    pub has_previous_page: bool,
    /// Cursor of the first edge.
    pub start_cursor: Option<String>,
    /// Cursor of the last edge; pass as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// An edge of [`ApiKeyConnection`].
#[derive(SimpleObject)]
#[graphql(name = "APIKeyEdge")]
pub struct ApiKeyEdge {
    /// Opaque position.
    pub cursor: String,
    /// The key.
    pub node: ApiKeyNode,
}

/// A page of API keys.
#[derive(SimpleObject)]
#[graphql(name = "APIKeyConnection")]
pub struct ApiKeyConnection {
    /// Keys of this page.
    pub edges: Vec<ApiKeyEdge>,
    /// Paging.
    pub page_info: PageInfo,
    /// Keys visible to the caller in total.
    pub total_count: i64,
}

/// One audit entry.
#[derive(SimpleObject)]
#[graphql(name = "AuditEvent")]
pub struct AuditEventNode {
    /// RFC 3339.
    pub at: String,
    /// `key.created`, `key.disabled`, `user.deactivated`, ...
    pub action: String,
    /// Environment of the key, for key actions.
    pub environment: Option<String>,
    /// The key, for key actions.
    pub client_id: Option<String>,
    /// The user concerned.
    pub user_id: Option<String>,
    /// The acting user.
    pub actor_user_id: Option<String>,
    /// The key the actor used.
    pub actor_client_id: Option<String>,
    /// Who ran a CLI command: the OS account as `user@host`, or what `--actor` said.
    pub operator: Option<String>,
    /// `cli`, `graphql`, `webhook`, `table`, `oauth`, `expiry` or `schedule`.
    pub source: String,
    /// Request or event id.
    pub request_id: Option<String>,
    /// Why, e.g. `owner_deactivated`.
    pub reason: Option<String>,
    /// What else it concerns: the `jti` of a revoked token, the `kid` of a signing key.
    pub target: Option<String>,
}

impl From<AuditEvent> for AuditEventNode {
    fn from(e: AuditEvent) -> Self {
        Self {
            at: rfc3339(e.at),
            action: e.action,
            environment: e.environment,
            client_id: e.client_id,
            user_id: e.user_id,
            actor_user_id: e.actor_user_id,
            actor_client_id: e.actor_client_id,
            operator: e.operator,
            source: e.source,
            request_id: e.request_id,
            reason: e.reason,
            target: e.target,
        }
    }
}

/// An edge of [`AuditEventConnection`].
#[derive(SimpleObject)]
pub struct AuditEventEdge {
    /// Opaque position.
    pub cursor: String,
    /// The entry.
    pub node: AuditEventNode,
}

/// A page of audit entries, oldest first.
#[derive(SimpleObject)]
pub struct AuditEventConnection {
    /// Entries of this page.
    pub edges: Vec<AuditEventEdge>,
    /// Paging.
    pub page_info: PageInfo,
    /// Entries matching the filters in total.
    pub total_count: i64,
}

/// Which key to change and how (contract input).
#[derive(InputObject)]
#[graphql(name = "APIKeyInput")]
pub struct ApiKeyInput {
    /// The key.
    pub client_id: String,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Generate a new secret (returned once in `clientSecret`).
    pub regenerate_secret: Option<bool>,
    /// The `_etag` read; a stale one is `CONFLICT`. Required for delete.
    #[graphql(name = "_etag")]
    pub underscore_etag: Option<String>,
    /// Same as `_etag`.
    pub etag: Option<String>,
    /// With `regenerateSecret`: the previous secret keeps working this long (0 to 86400).
    pub secret_grace_period_seconds: Option<i32>,
    /// A new label; `null` removes it. Left out: unchanged.
    pub name: MaybeUndefined<String>,
    /// A new expiry (RFC 3339, in the future); `null`: never expires. Left out: unchanged.
    /// A key that has expired keeps its expiry.
    pub expires_at: MaybeUndefined<String>,
    /// New JWKS URL of a `private_key_jwt` key (replaces its keys).
    pub jwks_uri: Option<String>,
    /// New public keys of a `private_key_jwt` key (replaces its keys).
    pub jwks: Option<Json<serde_json::Value>>,
    /// New IP allow-list (CIDRs or addresses, IPv4 and IPv6); `[]` or `null`: any address.
    /// Left out: unchanged.
    pub allowed_ips: MaybeUndefined<Vec<String>>,
}

/// Optional settings of a new key.
#[derive(InputObject, Default)]
#[graphql(name = "CreateAPIKeyInput")]
pub struct CreateApiKeyInput {
    /// Label.
    pub name: Option<String>,
    /// A subset of the permissions the caller could give it; more is `FORBIDDEN`.
    pub permissions: Option<Vec<String>>,
    /// Expiry, RFC 3339, in the future.
    pub expires_at: Option<String>,
    /// The URL where the key's clients publish their public keys (`private_key_jwt`, no
    /// secret; https, plain http only on loopback). Not with `jwks`.
    pub jwks_uri: Option<String>,
    /// The key's clients' public keys as a JWKS (`private_key_jwt`, no secret). Not with
    /// `jwksUri`.
    pub jwks: Option<Json<serde_json::Value>>,
    /// Trust an outside issuer's tokens that match this rule (workload identity
    /// federation, no secret). Not with `jwksUri` or `jwks`.
    pub federation: Option<FederationInput>,
    /// The networks (CIDRs or addresses, IPv4 and IPv6) its token requests may come from;
    /// left out or `[]`: any address.
    pub allowed_ips: Option<Vec<String>>,
}

/// Which outside tokens a federated key accepts.
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "FederationInput", name = "Federation")]
pub struct FederationInput {
    /// The outside issuer, exactly as its tokens' `iss` (https).
    pub issuer: String,
    /// The `sub` required.
    pub subject: Option<String>,
    /// The audience required (default: the environment's issuer URL).
    pub audience: Option<String>,
    /// Claims that must equal these values (all of them).
    #[graphql(default)]
    pub claims: Vec<ClaimCondition>,
}

/// A claim an outside token must carry with this value.
#[derive(InputObject, SimpleObject, Clone)]
#[graphql(input_name = "ClaimConditionInput", name = "ClaimCondition")]
pub struct ClaimCondition {
    /// The claim's name, e.g. `repository_owner`.
    pub name: String,
    /// Its required value.
    pub value: String,
}

impl FederationInput {
    /// The rule (checked by the caller).
    pub fn rule(&self) -> FederationRule {
        FederationRule {
            issuer: self.issuer.clone(),
            subject: self.subject.clone(),
            audience: self.audience.clone(),
            claims: self
                .claims
                .iter()
                .map(|c| (c.name.clone(), c.value.clone()))
                .collect(),
        }
    }

    fn from_rule(rule: &FederationRule) -> Self {
        Self {
            issuer: rule.issuer.clone(),
            subject: rule.subject.clone(),
            audience: rule.audience.clone(),
            claims: rule
                .claims
                .iter()
                .map(|(name, value)| ClaimCondition {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }
}

/// Encodes a position as an opaque cursor.
pub fn cursor(kind: &str, seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{seq}"))
}

/// Decodes a cursor of `kind`.
pub fn parse_cursor(kind: &str, cursor: &str) -> Option<i64> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.strip_prefix(kind)?.strip_prefix(':')?.parse().ok()
}

/// A user of the directory, as Keymint mirrors it (admins only).
#[derive(SimpleObject)]
#[graphql(name = "User")]
pub struct UserNode {
    /// Directory id.
    pub id: String,
    /// E-mail address.
    pub email: Option<String>,
    /// True for non-human accounts.
    pub service_account: bool,
    /// Inactive users cannot use, create or enable keys.
    pub active: bool,
    /// The user's current permissions (keys keep the set they were created with).
    pub permissions: Vec<String>,
    /// The part of `permissions` held through the user's directory groups.
    pub group_permissions: Vec<String>,
    /// Keys the user owns, in every environment.
    pub key_count: i64,
    /// Of those, enabled.
    pub enabled_key_count: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<crate::store::UserSummary> for UserNode {
    fn from(s: crate::store::UserSummary) -> Self {
        let u = s.user;
        Self {
            id: u.id.to_string(),
            email: u.email,
            service_account: u.service_account,
            active: u.active,
            permissions: u.permissions.iter().map(str::to_owned).collect(),
            group_permissions: u.group_permissions.iter().map(str::to_owned).collect(),
            key_count: s.keys,
            enabled_key_count: s.enabled_keys,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

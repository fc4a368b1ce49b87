//! Private row types shared by both backends, converted to domain types at the edge.
//! Column order follows the column lists of [`super::sql::queries`].

use time::OffsetDateTime;

use super::StoreError;
use crate::domain::{
    AllowedIps, ApiKey, ClientId, DisabledReason, EnvironmentName, KeyAuth, KeyCredentials,
    Permissions, StoredSecret, User, UserId,
};

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: String,
    email: Option<String>,
    service_account: bool,
    active: bool,
    permissions: String,
    group_permissions: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        let own =
            Permissions::from_json(&r.permissions).map_err(|_| corrupt("users.permissions"))?;
        let group_permissions = Permissions::from_json(&r.group_permissions)
            .map_err(|_| corrupt("users.group_permissions"))?;
        Ok(User {
            id: UserId::parse(&r.id).ok_or_else(|| corrupt("users.id"))?,
            email: r.email,
            service_account: r.service_account,
            active: r.active,
            permissions: own.union(&group_permissions),
            group_permissions,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct KeyRow {
    pub(super) seq: i64,
    id: String,
    client_id: String,
    environment: String,
    owner_id: String,
    permissions: String,
    enabled: bool,
    disabled_reason: Option<String>,
    name: Option<String>,
    expires_at: Option<OffsetDateTime>,
    last_used_at: Option<OffsetDateTime>,
    last_used_ip: Option<String>,
    etag: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    secret_hint: Option<String>,
    auth_method: String,
    jwks_uri: Option<String>,
    jwks: Option<String>,
    federation: Option<String>,
    allowed_ips: Option<String>,
    status_index: i64,
}

impl TryFrom<KeyRow> for ApiKey {
    type Error = StoreError;

    fn try_from(r: KeyRow) -> Result<Self, StoreError> {
        Ok(ApiKey {
            id: r.id,
            client_id: ClientId::new(r.client_id),
            environment: EnvironmentName::parse(&r.environment)
                .map_err(|_| corrupt("api_keys.environment"))?,
            owner_id: UserId::parse(&r.owner_id).ok_or_else(|| corrupt("api_keys.owner_id"))?,
            permissions: Permissions::from_json(&r.permissions)
                .map_err(|_| corrupt("api_keys.permissions"))?,
            enabled: r.enabled,
            disabled_reason: r
                .disabled_reason
                .as_deref()
                .map(DisabledReason::from_stored),
            name: r.name,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            last_used_ip: r.last_used_ip.and_then(|ip| ip.parse().ok()),
            etag: r.etag,
            created_at: r.created_at,
            updated_at: r.updated_at,
            secret_hint: r.secret_hint,
            auth: KeyAuth::from_stored(&r.auth_method, r.jwks_uri, r.jwks, r.federation)
                .ok_or_else(|| corrupt("api_keys.auth_method"))?,
            allowed_ips: AllowedIps::from_stored(r.allowed_ips.as_deref())
                .map_err(|_| corrupt("api_keys.allowed_ips"))?,
            status_index: u32::try_from(r.status_index)
                .map_err(|_| corrupt("api_keys.status_index"))?,
        })
    }
}

/// A key row with its secrets and owner state.
#[derive(sqlx::FromRow)]
pub(super) struct CredentialsRow {
    #[sqlx(flatten)]
    key: KeyRow,
    secret_hash: String,
    secret_check: Option<String>,
    previous_secret_hash: Option<String>,
    previous_secret_check: Option<String>,
    previous_secret_expires_at: Option<OffsetDateTime>,
    previous_status_index: Option<i64>,
    owner_active: bool,
}

impl TryFrom<CredentialsRow> for KeyCredentials {
    type Error = StoreError;

    fn try_from(r: CredentialsRow) -> Result<Self, StoreError> {
        Ok(KeyCredentials {
            key: r.key.try_into()?,
            secret: StoredSecret {
                hash: r.secret_hash,
                check: r.secret_check,
            },
            previous_secret: r
                .previous_secret_hash
                .zip(r.previous_secret_expires_at)
                .map(|(hash, until)| {
                    let check = r.previous_secret_check;
                    (StoredSecret { hash, check }, until)
                }),
            previous_status_index: r
                .previous_status_index
                .map(u32::try_from)
                .transpose()
                .map_err(|_| corrupt("api_keys.previous_status_index"))?,
            owner_active: r.owner_active,
        })
    }
}

fn corrupt(column: &str) -> StoreError {
    StoreError::Backend(format!("unreadable value in {column}"))
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    seq: i64,
    at: OffsetDateTime,
    action: String,
    environment: Option<String>,
    client_id: Option<String>,
    user_id: Option<String>,
    actor_user_id: Option<String>,
    actor_client_id: Option<String>,
    operator: Option<String>,
    source: String,
    request_id: Option<String>,
    reason: Option<String>,
    target: Option<String>,
}

impl From<AuditRow> for crate::domain::AuditEvent {
    fn from(r: AuditRow) -> Self {
        Self {
            seq: r.seq,
            at: r.at,
            action: r.action,
            environment: r.environment,
            client_id: r.client_id,
            user_id: r.user_id,
            actor_user_id: r.actor_user_id,
            actor_client_id: r.actor_client_id,
            operator: r.operator,
            source: r.source,
            request_id: r.request_id,
            reason: r.reason,
            target: r.target,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ChangeRow {
    seq: i64,
    kind: String,
    subject: String,
}

impl From<ChangeRow> for super::ChangeRecord {
    fn from(r: ChangeRow) -> Self {
        Self {
            seq: r.seq,
            kind: r.kind,
            subject: r.subject,
        }
    }
}

/// A user row with its key counts.
#[derive(sqlx::FromRow)]
pub(super) struct UserSummaryRow {
    #[sqlx(flatten)]
    user: UserRow,
    keys: i64,
    enabled_keys: i64,
}

impl TryFrom<UserSummaryRow> for super::UserSummary {
    type Error = StoreError;

    fn try_from(r: UserSummaryRow) -> Result<Self, StoreError> {
        Ok(Self {
            user: r.user.try_into()?,
            keys: r.keys,
            enabled_keys: r.enabled_keys,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SigningKeyRow {
    kid: String,
    environment: String,
    alg: String,
    created_at: OffsetDateTime,
    encryption_key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl TryFrom<SigningKeyRow> for super::SigningKeyRecord {
    type Error = StoreError;

    fn try_from(r: SigningKeyRow) -> Result<Self, StoreError> {
        Ok(Self {
            kid: r.kid,
            environment: EnvironmentName::parse(&r.environment)
                .map_err(|_| corrupt("signing_keys.environment"))?,
            alg: r.alg,
            created_at: r.created_at,
            encryption_key_id: r.encryption_key_id,
            nonce: r.nonce,
            ciphertext: r.ciphertext,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ScimUserRow {
    user_id: String,
    resource: String,
    version: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<ScimUserRow> for super::ScimUserRecord {
    type Error = StoreError;

    fn try_from(r: ScimUserRow) -> Result<Self, StoreError> {
        Ok(Self {
            user_id: UserId::parse(&r.user_id).ok_or_else(|| corrupt("scim_users.user_id"))?,
            resource: serde_json::from_str(&r.resource)
                .map_err(|_| corrupt("scim_users.resource"))?,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ScimGroupRow {
    id: String,
    display_name: String,
    resource: String,
    version: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<ScimGroupRow> for super::ScimGroupRecord {
    type Error = StoreError;

    fn try_from(r: ScimGroupRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: r.id,
            display_name: r.display_name,
            resource: serde_json::from_str(&r.resource)
                .map_err(|_| corrupt("scim_groups.resource"))?,
            members: Vec::new(),
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct GroupMappingRow {
    name: String,
    permissions: String,
    updated_at: OffsetDateTime,
}

impl TryFrom<GroupMappingRow> for super::GroupMapping {
    type Error = StoreError;

    fn try_from(r: GroupMappingRow) -> Result<Self, StoreError> {
        Ok(Self {
            name: r.name,
            permissions: Permissions::from_json(&r.permissions)
                .map_err(|_| corrupt("group_permissions.permissions"))?,
            updated_at: r.updated_at,
        })
    }
}

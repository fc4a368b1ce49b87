//! Plain domain types and the rules over them: no I/O here.

mod allowed_ips;
mod api_key;
mod audit;
mod environment;
mod federation_rule;
mod key_auth;
mod key_update;
pub mod lifecycle_event;
mod permissions;
mod user;
mod user_event;

pub use allowed_ips::{AllowedIps, MAX_ALLOWED_NETWORKS};
pub use api_key::{ApiKey, ClientId, DisabledReason, KeyCredentials, StoredSecret, secret_version};
pub use audit::{Actor, AuditAction, AuditEvent, ChangeSource};
pub use environment::{EnvironmentName, InvalidEnvironmentName};
pub use key_auth::{
    ClientKeys, FederationRule, InvalidClientKeys, KeyAuth, MAX_CLIENT_JWKS_BYTES, check_jwks_url,
    parse_client_jwks,
};
pub use key_update::{
    Activation, KeyEdit, NewSecret, UpdatePlan, UpdateRefused, frozen_permissions, plan_update,
};
pub use lifecycle_event::LifecycleEvent;
pub use permissions::{BUILT_IN, InvalidPermission, Permissions};
pub use user::{User, UserId, UserUpsert};
pub use user_event::{InvalidEvent, UserEvent};

/// Values for unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use time::macros::datetime;

    /// An enabled key of an active owner in `production`, with `runs:read`.
    pub fn key_credentials(client_id: &str, owner: &str) -> KeyCredentials {
        let at = datetime!(2026-01-01 0:00 UTC);
        KeyCredentials {
            key: ApiKey {
                id: format!("key_{client_id}"),
                client_id: ClientId::new(client_id.into()),
                environment: EnvironmentName::parse("production").unwrap(),
                owner_id: UserId::parse(owner).unwrap(),
                permissions: Permissions::parse(["runs:read"]).unwrap(),
                enabled: true,
                disabled_reason: None,
                name: None,
                expires_at: None,
                last_used_at: None,
                last_used_ip: None,
                etag: "e1".into(),
                created_at: at,
                updated_at: at,
                secret_hint: None,
                auth: KeyAuth::Secret,
                allowed_ips: AllowedIps::any(),
                status_index: 0,
            },
            secret: StoredSecret {
                hash: "h".into(),
                check: None,
            },
            previous_secret: None,
            previous_status_index: None,
            owner_active: true,
        }
    }
}

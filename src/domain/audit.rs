//! Who changed what: actors, change sources and audit entries.

use time::OffsetDateTime;

use super::{ClientId, UserId};

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSource {
    /// The `keymint` command line.
    Cli,
    /// The signed user-events webhook.
    Webhook,
    /// A row in `keymint_user_events`.
    Table,
    /// The GraphQL management API.
    GraphQl,
    /// Keymint itself, when a key reaches its expiry.
    Expiry,
}

impl ChangeSource {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cli => "cli",
            Self::Webhook => "webhook",
            Self::Table => "table",
            Self::GraphQl => "graphql",
            Self::Expiry => "expiry",
        }
    }
}

/// Who made a change.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Through which door.
    pub source: ChangeSource,
    /// The acting user, when known.
    pub user: Option<UserId>,
    /// The key the actor authenticated with, when acting through a key.
    pub client_id: Option<ClientId>,
}

impl Actor {
    /// An actor known only by its source (CLI, directory).
    pub fn system(source: ChangeSource) -> Self {
        Self {
            source,
            user: None,
            client_id: None,
        }
    }
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// A key was created.
    KeyCreated,
    /// A key was enabled.
    KeyEnabled,
    /// A key was disabled (see the reason).
    KeyDisabled,
    /// A key's secret was regenerated.
    KeySecretRegenerated,
    /// A key was deleted.
    KeyDeleted,
    /// A key reached its expiry and was disabled.
    KeyExpired,
    /// A user was created or updated.
    UserUpserted,
    /// A user was deactivated.
    UserDeactivated,
    /// A user was reactivated.
    UserReactivated,
}

impl AuditAction {
    /// Stable name, e.g. `key.disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyCreated => "key.created",
            Self::KeyEnabled => "key.enabled",
            Self::KeyDisabled => "key.disabled",
            Self::KeySecretRegenerated => "key.secret_regenerated",
            Self::KeyDeleted => "key.deleted",
            Self::KeyExpired => "key.expired",
            Self::UserUpserted => "user.upserted",
            Self::UserDeactivated => "user.deactivated",
            Self::UserReactivated => "user.reactivated",
        }
    }
}

/// One append-only audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Position in the trail.
    pub seq: i64,
    /// When.
    pub at: OffsetDateTime,
    /// What (`key.created`, ...).
    pub action: String,
    /// Environment of the key, for key actions.
    pub environment: Option<String>,
    /// The key, for key actions.
    pub client_id: Option<String>,
    /// The user concerned (key owner or the user itself).
    pub user_id: Option<String>,
    /// Acting user.
    pub actor_user_id: Option<String>,
    /// Key the actor used.
    pub actor_client_id: Option<String>,
    /// `cli`, `webhook`, `table` or `graphql`.
    pub source: String,
    /// Request or event id.
    pub request_id: Option<String>,
    /// Why (e.g. `owner_deactivated`).
    pub reason: Option<String>,
}

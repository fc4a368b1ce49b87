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
    /// A client at the revocation endpoint (RFC 7009).
    OAuth,
    /// A directory through SCIM 2.0.
    Scim,
    /// A person in the web console.
    Console,
    /// Keymint itself, creating signing keys: at start-up (reason `missing` or `imported`)
    /// and on `KEYMINT_SIGNING_KEY_ROTATE_DAYS` (reason `scheduled`).
    Schedule,
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
            Self::OAuth => "oauth",
            Self::Schedule => "schedule",
            Self::Scim => "scim",
            Self::Console => "console",
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
    /// Who ran a CLI command: the OS account as `user@host`, or what `--actor` said.
    pub operator: Option<String>,
}

impl Actor {
    /// An actor known only by its source (directory, Keymint itself).
    pub fn system(source: ChangeSource) -> Self {
        Self {
            source,
            user: None,
            client_id: None,
            operator: None,
        }
    }

    /// A person at the command line.
    pub fn cli(operator: String) -> Self {
        Self {
            operator: Some(operator),
            ..Self::system(ChangeSource::Cli)
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
    /// A key's name was changed.
    KeyRenamed,
    /// A key's expiry was set, moved or removed.
    KeyExpiryChanged,
    /// The public keys a `private_key_jwt` key's clients sign with were replaced.
    KeyClientKeysReplaced,
    /// A key's IP allow-list was set, changed or removed (reason: the networks, or `any`).
    KeyAllowedIpsChanged,
    /// Good credentials of the key were presented from an address its allow-list
    /// excludes (target: the address; at most one entry per key and minute per instance).
    KeyAddressRefused,
    /// A user was created or updated.
    UserUpserted,
    /// A user was deactivated.
    UserDeactivated,
    /// A user was reactivated.
    UserReactivated,
    /// An access token was revoked (the target is its `jti`).
    TokenRevoked,
    /// A signing key was created (the target is its `kid`).
    SigningKeyCreated,
    /// A signing key was re-encrypted under the first encryption key (target: its `kid`).
    SigningKeyRewrapped,
    /// A SCIM group was created (target: its displayName).
    GroupCreated,
    /// A SCIM group's attributes were replaced or patched (target: its displayName).
    GroupUpdated,
    /// A SCIM group was deleted (target: its displayName).
    GroupDeleted,
    /// The permissions a group name maps to were set (target: the name; reason: the
    /// permissions, space-separated).
    GroupPermissionsSet,
    /// A user joined a group (target: the group's displayName).
    UserGroupAdded,
    /// A user left a group (target: the group's displayName).
    UserGroupRemoved,
    /// A one-time console sign-in link was made for the user.
    ConsoleLinkCreated,
    /// The user signed in to the console (reason: `link` or `oidc`).
    ConsoleSignedIn,
    /// The user signed out of the console.
    ConsoleSignedOut,
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
            Self::KeyRenamed => "key.renamed",
            Self::KeyExpiryChanged => "key.expiry_changed",
            Self::KeyClientKeysReplaced => "key.client_keys_replaced",
            Self::KeyAllowedIpsChanged => "key.allowed_ips_changed",
            Self::KeyAddressRefused => "key.address_refused",
            Self::UserUpserted => "user.upserted",
            Self::UserDeactivated => "user.deactivated",
            Self::UserReactivated => "user.reactivated",
            Self::TokenRevoked => "token.revoked",
            Self::SigningKeyCreated => "signing_key.created",
            Self::SigningKeyRewrapped => "signing_key.rewrapped",
            Self::GroupCreated => "group.created",
            Self::GroupUpdated => "group.updated",
            Self::GroupDeleted => "group.deleted",
            Self::GroupPermissionsSet => "group.permissions_set",
            Self::UserGroupAdded => "user.group_added",
            Self::UserGroupRemoved => "user.group_removed",
            Self::ConsoleLinkCreated => "console.link_created",
            Self::ConsoleSignedIn => "console.signed_in",
            Self::ConsoleSignedOut => "console.signed_out",
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
    /// Who ran the CLI command (`user@host` or `--actor`).
    pub operator: Option<String>,
    /// `cli`, `graphql`, `webhook`, `table`, `oauth`, `expiry` or `schedule`.
    pub source: String,
    /// Request or event id.
    pub request_id: Option<String>,
    /// Why (e.g. `owner_deactivated`).
    pub reason: Option<String>,
    /// What else the entry concerns: a token's `jti`, a signing key's `kid`.
    pub target: Option<String>,
}

//! The values the [`super::Store`] methods take and give: queries, pages, outcomes,
//! the write context.

use time::OffsetDateTime;

use crate::domain::{
    Activation, Actor, AllowedIps, ApiKey, ClientId, EnvironmentName, KeyAuth, KeyEdit, NewSecret,
    Permissions, StoredSecret, User, UserId,
};

/// Connections of a store's pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolUsage {
    /// Open connections (busy and idle).
    pub open: u32,
    /// Idle connections.
    pub idle: u32,
    /// The pool's limit.
    pub max: u32,
}

/// Who is writing, when, and for which request: recorded in the audit trail written in
/// the same transaction as the change.
#[derive(Debug, Clone)]
pub struct WriteContext {
    /// The time of the change.
    pub now: OffsetDateTime,
    /// Who makes it.
    pub actor: Actor,
    /// Request or event id, for correlating logs and audit entries.
    pub request_id: Option<String>,
}

/// A key to insert. The store freezes the owner's permissions (narrowed to `requested`)
/// in the same transaction that checks the owner is active. `Debug` leaves the hash out.
#[derive(Clone)]
pub struct NewApiKey {
    /// Opaque id.
    pub id: String,
    /// Public client id.
    pub client_id: ClientId,
    /// The secret's argon2id hash and check tag.
    pub secret: StoredSecret,
    /// Environment of the key.
    pub environment: EnvironmentName,
    /// Owner.
    pub owner_id: UserId,
    /// A subset of the owner's permissions; `None` takes all of them.
    pub requested: Option<Permissions>,
    /// Human label.
    pub name: Option<String>,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// The secret's last four characters ([`crate::secrets::ClientSecret::hint`]).
    pub secret_hint: Option<String>,
    /// How its clients authenticate. Without a secret, `secret` is never matched.
    pub auth: KeyAuth,
    /// The networks its token requests may come from (empty: any).
    pub allowed_ips: AllowedIps,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("environment", &self.environment)
            .field("owner_id", &self.owner_id)
            .field("requested", &self.requested)
            .field("name", &self.name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Changes to one key, applied together in one transaction, with a concurrency guard.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    /// Enable or disable.
    pub activation: Option<Activation>,
    /// Replace the secret.
    pub secret: Option<NewSecret>,
    /// Rename, move the expiry, replace the registered keys.
    pub edit: KeyEdit,
    /// When given, the update applies only if the key's etag still equals it.
    pub expected_etag: Option<String>,
}

/// A user with the number of keys it owns (in every environment).
#[derive(Debug, Clone)]
pub struct UserSummary {
    /// The user.
    pub user: User,
    /// Keys it owns.
    pub keys: i64,
    /// Of those, enabled.
    pub enabled_keys: i64,
}

/// Which users to list, by id.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Only this user.
    pub id: Option<UserId>,
    /// Start after this id.
    pub after: Option<String>,
    /// At most this many.
    pub limit: u32,
}

/// A page of keys in creation order.
#[derive(Debug, Clone)]
pub struct KeyPage {
    /// Keys with their cursor (a position usable as `after`).
    pub entries: Vec<(i64, ApiKey)>,
    /// True when more keys follow.
    pub has_next_page: bool,
    /// Keys matching the filter in total.
    pub total_count: i64,
}

/// Which keys to list.
#[derive(Debug, Clone)]
pub struct KeyQuery {
    /// Environment.
    pub environment: EnvironmentName,
    /// Only this owner's keys, when given.
    pub owner: Option<UserId>,
    /// Start after this cursor.
    pub after: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// Which audit entries to list, oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries of this environment, plus user-level entries (which have none).
    pub environment: Option<String>,
    /// Only entries about this key.
    pub client_id: Option<String>,
    /// Only entries about this user.
    pub user_id: Option<String>,
    /// Start after this position (in `newest_first` order: before it).
    pub after: Option<i64>,
    /// At most this many.
    pub limit: u32,
    /// Newest entries first, instead of oldest first.
    pub newest_first: bool,
}

/// Result of applying a user event.
#[derive(Debug, Clone)]
pub struct UserActivation {
    /// The user after the change.
    pub user: User,
    /// Keys disabled by this change (deactivation only).
    pub disabled_keys: Vec<ApiKey>,
}

impl UserActivation {
    /// Its change-feed rows: every disabled key, then the user.
    pub fn changes(&self) -> Vec<(&'static str, &str)> {
        let mut changes: Vec<(&'static str, &str)> = self
            .disabled_keys
            .iter()
            .map(|k| ("key", k.client_id.as_str()))
            .collect();
        changes.push(("user", self.user.id.as_str()));
        changes
    }
}

/// How a user event is protected against being applied twice.
#[derive(Debug, Clone)]
pub enum Dedupe {
    /// Not at all (CLI).
    None,
    /// By its Standard Webhooks `webhook-id`.
    WebhookId(String),
    /// An upsert that only creates: if a user with its id exists (or is being created
    /// concurrently), `Duplicate` and nothing changes. Decided by the insert itself, so
    /// no check-then-write window (the console's service accounts).
    NewUser,
}

/// What applying a user event did.
#[derive(Debug, Clone)]
pub enum EventOutcome {
    /// The event took effect.
    Applied(UserActivation),
    /// The same event was applied before; nothing changed.
    Duplicate,
    /// The event is older than the last directory event applied for its user (a
    /// delayed retry, say); nothing changed.
    Stale,
}

/// A row of `keymint_user_events` that was handled.
#[derive(Debug, Clone)]
pub struct TableEventOutcome {
    /// Row id.
    pub id: i64,
    /// The effect, or why the row could not be applied (recorded on the row).
    pub result: Result<UserActivation, String>,
}

/// An entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// Position.
    pub seq: i64,
    /// `key` or `user`.
    pub kind: String,
    /// Client id or user id.
    pub subject: String,
}

/// Wake-ups from the database (PostgreSQL LISTEN); SQLite has none and is polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wakeup {
    /// The change feed has new rows.
    Changes,
    /// `keymint_user_events` has new rows.
    UserEvents,
    /// The notification connection is (re)established; anything may have been missed.
    Connected,
    /// The notification connection is down (reason), retrying with back-off.
    Disconnected(String),
}

/// An access token to revoke (RFC 7009), with what its claims say about it.
#[derive(Debug, Clone)]
pub struct TokenRevocation {
    /// The token's `jti`.
    pub jti: String,
    /// Its environment.
    pub environment: EnvironmentName,
    /// The client it was issued to, when known (`keymint tokens revoke` has only the jti).
    pub client_id: Option<ClientId>,
    /// Its subject, when known.
    pub user_id: Option<UserId>,
    /// Remembered until then (the token's `exp`), then forgotten.
    pub expires_at: OffsetDateTime,
}

/// A signing key as stored: its public facts and its sealed private key. `Debug` leaves
/// the sealed bytes out.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Environment.
    pub environment: EnvironmentName,
    /// `ES256`, `RS256` or `EdDSA`.
    pub alg: String,
    /// Orders the keys of an environment (the newest that may sign is active).
    pub created_at: OffsetDateTime,
    /// The encryption key entry that sealed it.
    pub encryption_key_id: String,
    /// AEAD nonce.
    pub nonce: Vec<u8>,
    /// The sealed PKCS#8 DER, with its tag.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("environment", &self.environment)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("encryption_key_id", &self.encryption_key_id)
            .finish_non_exhaustive()
    }
}

/// When [`super::Store::insert_signing_key`] inserts, decided under the store's
/// signing-key lock so that of instances racing, one inserts and the others see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertWhen {
    /// Always (a rotation an operator asked for).
    Always,
    /// When the environment has no key, or its newest uses another algorithm (start-up).
    Missing,
    /// When the environment's newest key was created before this time (scheduled rotation).
    NewestBefore(OffsetDateTime),
    /// When no key has this kid, keeping the record's `created_at` (import of key files).
    Import,
}

/// A console session as stored, with its user (read at every request).
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    /// The signed-in user, as it is now.
    pub user: User,
    /// The session's CSRF token, expected in every form it posts.
    pub csrf_token: String,
    /// How the user signed in: `link` or `oidc`.
    pub method: String,
    /// Signed in.
    pub created_at: OffsetDateTime,
    /// Last request.
    pub last_seen_at: OffsetDateTime,
    /// The absolute timeout.
    pub expires_at: OffsetDateTime,
}

/// A console session to create: only the hash of its token is stored.
#[derive(Debug, Clone)]
pub struct NewConsoleSession {
    /// SHA-256 of the session token (hex).
    pub token_hash: String,
    /// The CSRF token.
    pub csrf_token: String,
    /// `link` or `oidc`.
    pub method: &'static str,
    /// The absolute timeout.
    pub expires_at: OffsetDateTime,
}

/// An OpenID Connect sign-in in flight: what the callback needs to finish it.
#[derive(Clone)]
pub struct OidcLogin {
    /// SHA-256 of the `state` value (hex).
    pub state_hash: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier (RFC 7636).
    pub code_verifier: String,
    /// When the sign-in must have come back.
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for OidcLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcLogin")
            .field("state_hash", &self.state_hash)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A successful token request of a key, noted for its last use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    /// The key.
    pub client_id: ClientId,
    /// When, to the minute.
    pub at: OffsetDateTime,
    /// From where (the client address as resolved through the trusted proxies).
    pub ip: Option<std::net::IpAddr>,
}

/// A client assertion's `jti` to record until `expires_at` (RFC 7523 §3).
#[derive(Debug, Clone, Copy)]
pub struct NewAssertion<'a> {
    /// The client that sent it.
    pub client_id: &'a str,
    /// Its `jti`.
    pub jti: &'a str,
    /// When it stops mattering: past it, the assertion's `exp` refuses it anyway.
    pub expires_at: OffsetDateTime,
}

/// A lifecycle event in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// `evt_...`: the `webhook-id` the receiver deduplicates by.
    pub id: String,
    /// `key.created`, ...
    pub kind: String,
    /// The client id, or `user:ID`.
    pub subject: String,
    /// The JSON body.
    pub body: String,
    /// Written (with the change it reports).
    pub created_at: OffsetDateTime,
    /// Not delivered within its window; waits for `keymint events retry`.
    pub set_aside: bool,
    /// Delivery attempts so far (counting a claimed one).
    pub attempts: u32,
    /// When it is due.
    pub next_attempt_at: OffsetDateTime,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// The outbox at a glance, for `/metrics`, the CLI and the console.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxState {
    /// Events waiting (due or retrying).
    pub pending: u64,
    /// Events set aside after their delivery window.
    pub set_aside: u64,
    /// When the oldest waiting event was written.
    pub oldest_pending: Option<OffsetDateTime>,
}

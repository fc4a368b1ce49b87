//! The SQL text both backends run. SQLite and PostgreSQL accept the same `$n`
//! placeholders, `RETURNING` and `ON CONFLICT`; where they differ (row locks, the
//! change-feed lock) the backend's [`super::Backend`] supplies the clause.

/// Columns of `users`, in `UserRow` order.
macro_rules! user_columns {
    () => {
        "id, email, service_account, active, permissions, group_permissions, created_at, updated_at"
    };
}

/// Columns of `api_keys`, in `KeyRow` order.
macro_rules! key_columns {
    () => {
        "seq, id, client_id, environment, owner_id, permissions, enabled, disabled_reason, \
         name, expires_at, last_used_at, last_used_ip, etag, created_at, updated_at, \
         secret_hint, auth_method, jwks_uri, jwks, federation, allowed_ips, status_index"
    };
}

/// A key with its secrets and its owner's state (`CredentialsRow`), by `client_id = $1`.
pub const CREDENTIALS_BY_CLIENT_ID: &str = concat!(
    "SELECT ",
    key_columns!(),
    ", secret_hash, secret_check, previous_secret_hash, previous_secret_check, \
     previous_secret_expires_at, previous_status_index, \
     (SELECT active FROM users WHERE users.id = api_keys.owner_id) AS owner_active \
     FROM api_keys WHERE client_id = $1"
);

pub const USER_BY_ID: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");

/// Users in id order with their key counts, optionally one (`$1`), after `$2`.
pub const LIST_USERS: &str = concat!(
    "SELECT ",
    user_columns!(),
    ", (SELECT COUNT(*) FROM api_keys WHERE api_keys.owner_id = users.id) AS keys, \
     (SELECT COUNT(*) FROM api_keys WHERE api_keys.owner_id = users.id AND enabled) \
     AS enabled_keys FROM users WHERE (CAST($1 AS TEXT) IS NULL OR id = CAST($1 AS TEXT)) \
     AND id > $2 ORDER BY id LIMIT $3"
);

pub const USER_LAST_EVENT: &str = "SELECT last_event_at FROM users WHERE id = $1";

pub const SET_USER_LAST_EVENT: &str = "UPDATE users SET last_event_at = $2 WHERE id = $1";

/// Upserts profile and current permissions; a new user is active.
pub const UPSERT_USER: &str = concat!(
    "INSERT INTO users (id, email, service_account, active, permissions, created_at, updated_at) \
     VALUES ($1, $2, $3, TRUE, $4, $5, $5) \
     ON CONFLICT (id) DO UPDATE SET email = excluded.email, \
     service_account = excluded.service_account, permissions = excluded.permissions, \
     updated_at = excluded.updated_at RETURNING ",
    user_columns!()
);

/// Inserts a user unless its id is taken (then nothing; see `Dedupe::NewUser`).
pub const INSERT_NEW_USER: &str = "INSERT INTO users (id, email, service_account, active, permissions, created_at, updated_at) \
     VALUES ($1, $2, $3, TRUE, $4, $5, $5) ON CONFLICT (id) DO NOTHING";

/// Sets `active` of a user that exists.
pub const SET_USER_ACTIVE: &str = concat!(
    "UPDATE users SET active = $2, updated_at = $3 WHERE id = $1 RETURNING ",
    user_columns!()
);

/// Sets `active`, creating the user when unknown (directory events).
pub const UPSERT_USER_ACTIVE: &str = concat!(
    "INSERT INTO users (id, email, service_account, active, permissions, created_at, updated_at) \
     VALUES ($1, NULL, FALSE, $2, '[]', $3, $3) \
     ON CONFLICT (id) DO UPDATE SET active = excluded.active, updated_at = excluded.updated_at \
     RETURNING ",
    user_columns!()
);

pub const DISABLE_KEYS_OF_OWNER: &str = concat!(
    "UPDATE api_keys SET enabled = FALSE, disabled_reason = 'owner_deactivated', \
     etag = $2, updated_at = $3 WHERE owner_id = $1 AND enabled RETURNING ",
    key_columns!()
);

pub const INSERT_AUDIT: &str = "INSERT INTO audit_events (at, action, environment, client_id, \
     user_id, actor_user_id, actor_client_id, source, request_id, reason, target, operator) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// An outgoing lifecycle event, due at once.
pub const INSERT_KEY_EVENT: &str = "INSERT INTO key_events \
     (id, type, subject, body, created_at, next_attempt_at, deliver_until) \
     VALUES ($1, $2, $3, $4, $5, $5, $6)";

pub const INSERT_CHANGE: &str =
    "INSERT INTO keymint_changes (at, kind, subject) VALUES ($1, $2, $3)";

pub const INSERT_WEBHOOK_ID: &str = "INSERT INTO processed_webhooks (id, received_at) \
     VALUES ($1, $2) ON CONFLICT (id) DO NOTHING";

pub const INSERT_KEY: &str = concat!(
    "INSERT INTO api_keys (id, client_id, secret_hash, secret_check, environment, owner_id, \
     permissions, enabled, disabled_reason, name, expires_at, etag, created_at, updated_at, \
     secret_hint, auth_method, jwks_uri, jwks, federation, allowed_ips, status_index) \
     VALUES ($1, $2, $3, $11, $4, $5, $6, TRUE, NULL, $7, $8, $9, $10, $10, $12, $13, $14, $15, $16, \
     $17, $18) \
     RETURNING ",
    key_columns!()
);

pub const KEY_BY_CLIENT_ID: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM api_keys WHERE client_id = $1"
);

pub const LIST_KEYS: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM api_keys WHERE environment = $1 \
     AND (CAST($2 AS TEXT) IS NULL OR owner_id = CAST($2 AS TEXT)) \
     AND seq > $3 ORDER BY seq LIMIT $4"
);

pub const COUNT_KEYS: &str = "SELECT COUNT(*) FROM api_keys WHERE environment = $1 \
     AND (CAST($2 AS TEXT) IS NULL OR owner_id = CAST($2 AS TEXT))";

/// The etag condition makes a concurrent writer that read the same etag lose.
pub const UPDATE_KEY: &str = concat!(
    "UPDATE api_keys SET enabled = $2, disabled_reason = $3, secret_hash = $4, \
     etag = $5, updated_at = $6, previous_secret_hash = $8, previous_secret_expires_at = $9, \
     secret_check = $10, previous_secret_check = $11, name = $12, expires_at = $13, \
     secret_hint = CASE WHEN CAST($14 AS TEXT) IS NULL THEN secret_hint ELSE $14 END, \
     jwks_uri = $15, jwks = $16, allowed_ips = $17, status_index = $18, \
     previous_status_index = $19, \
     expiring_warned_at = CASE WHEN expires_at = $13 THEN expiring_warned_at ELSE NULL END \
     WHERE client_id = $1 AND etag = $7 RETURNING ",
    key_columns!()
);

pub const KEY_ETAG: &str = "SELECT etag FROM api_keys WHERE client_id = $1";

pub const DELETE_KEY: &str = concat!(
    "DELETE FROM api_keys WHERE client_id = $1 AND etag = $2 RETURNING ",
    key_columns!()
);

pub const COUNT_DUE_TO_EXPIRE: &str = "SELECT COUNT(*) FROM api_keys \
     WHERE enabled AND expires_at IS NOT NULL AND expires_at <= $1";

pub const EXPIRE_KEYS: &str = concat!(
    "UPDATE api_keys SET enabled = FALSE, disabled_reason = 'expired', etag = $2, \
     updated_at = $1 WHERE enabled AND expires_at IS NOT NULL AND expires_at <= $1 RETURNING ",
    key_columns!()
);

/// Keys expiring within the warning period not yet warned about, marked warned: of
/// instances scanning at once, each row is returned to one.
pub const WARN_EXPIRING: &str = concat!(
    "UPDATE api_keys SET expiring_warned_at = $1 WHERE enabled AND expires_at IS NOT NULL \
     AND expires_at > $1 AND expires_at <= $2 AND expiring_warned_at IS NULL RETURNING ",
    key_columns!()
);

/// The hash condition makes a concurrent rotation win: a tag is only ever stored beside
/// the hash it was verified against.
pub const RECORD_SECRET_CHECK: &str = "UPDATE api_keys SET \
     secret_check = CASE WHEN secret_hash = $2 AND secret_check IS NULL THEN $3 \
     ELSE secret_check END, \
     previous_secret_check = CASE WHEN previous_secret_hash = $2 \
     AND previous_secret_check IS NULL THEN $3 ELSE previous_secret_check END \
     WHERE client_id = $1 AND (secret_hash = $2 OR previous_secret_hash = $2)";

/// Times are noted to the minute; one from the minute of creation reads as the creation.
/// The address is the last one seen; within one minute only a new address is written.
pub const RECORD_LAST_USED: &str = "UPDATE api_keys \
     SET last_used_at = CASE WHEN $2 < created_at THEN created_at ELSE $2 END, \
     last_used_ip = $3 \
     WHERE client_id = $1 AND (last_used_at IS NULL OR last_used_at < $2 \
     OR (last_used_at = $2 AND last_used_ip IS DISTINCT FROM CAST($3 AS TEXT)))";

pub const REVOKE_TOKEN: &str = "INSERT INTO revoked_tokens \
     (jti, environment, client_id, revoked_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (jti) DO NOTHING";

pub const IS_REVOKED: &str = "SELECT COUNT(*) FROM revoked_tokens WHERE jti = $1";
/// Revocations whose tokens have not expired at `$1`.
pub const UNEXPIRED_REVOCATIONS: &str =
    "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at >= $1";

/// The filters of `audit_events` reads: `$2` environment, `$3` client id, `$4` user id.
macro_rules! audit_filters {
    () => {
        "FROM audit_events \
         WHERE (CAST($2 AS TEXT) IS NULL OR environment = CAST($2 AS TEXT) OR environment IS NULL) \
         AND (CAST($3 AS TEXT) IS NULL OR client_id = CAST($3 AS TEXT)) \
         AND (CAST($4 AS TEXT) IS NULL OR user_id = CAST($4 AS TEXT)) "
    };
}

/// Columns and filters of `audit_events` reads; `$5` limits.
macro_rules! audit_select {
    () => {
        concat!(
            "SELECT seq, at, action, environment, client_id, user_id, actor_user_id, \
             actor_client_id, operator, source, request_id, reason, target ",
            audit_filters!()
        )
    };
}

/// Entries matching the filters; `$1` is unused (0) so the filters keep their numbers.
pub const COUNT_AUDIT: &str = concat!("SELECT COUNT(*) ", audit_filters!(), "AND $1 = 0");

/// Oldest first, after position `$1`.
pub const LIST_AUDIT: &str = concat!(audit_select!(), "AND seq > $1 ORDER BY seq LIMIT $5");

/// Newest first, before position `$1` (`0`: from the newest).
pub const LIST_AUDIT_NEWEST: &str = concat!(
    audit_select!(),
    "AND ($1 = 0 OR seq < $1) ORDER BY seq DESC LIMIT $5"
);

pub const CHANGES_SINCE: &str =
    "SELECT seq, kind, subject FROM keymint_changes WHERE seq > $1 ORDER BY seq LIMIT $2";

pub const LATEST_CHANGE: &str = "SELECT MAX(seq) FROM keymint_changes";

/// Keeps the newest change row so positions never go backwards.
pub const PRUNE_CHANGES: &str = "DELETE FROM keymint_changes \
     WHERE at < $1 AND seq < (SELECT MAX(seq) FROM keymint_changes)";

pub const PRUNE_WEBHOOK_IDS: &str = "DELETE FROM processed_webhooks WHERE received_at < $1";

/// Revocations are needed only until the token would have expired anyway.
pub const PRUNE_REVOCATIONS: &str = "DELETE FROM revoked_tokens WHERE expires_at < $1";

pub const LIST_SIGNING_KEYS: &str = "SELECT kid, environment, alg, created_at, \
     encryption_key_id, nonce, ciphertext FROM signing_keys \
     WHERE (CAST($1 AS TEXT) IS NULL OR environment = CAST($1 AS TEXT)) \
     ORDER BY environment, created_at, kid";

pub const NEWEST_SIGNING_KEY: &str = "SELECT created_at, alg FROM signing_keys \
     WHERE environment = $1 ORDER BY created_at DESC, kid DESC LIMIT 1";

pub const COUNT_SIGNING_KEY: &str = "SELECT COUNT(*) FROM signing_keys WHERE kid = $1";

pub const INSERT_SIGNING_KEY: &str = "INSERT INTO signing_keys (kid, environment, alg, \
     created_at, encryption_key_id, nonce, ciphertext) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Applies only while the row is still sealed under the entry it was read with.
pub const REWRAP_SIGNING_KEY: &str = "UPDATE signing_keys SET encryption_key_id = $2, \
     nonce = $3, ciphertext = $4 WHERE kid = $1 AND encryption_key_id = $5";

pub const SCIM_USER: &str = "SELECT user_id, resource, version, created_at, updated_at \
     FROM scim_users WHERE user_id = $1";

pub const SCIM_USER_VERSION: &str = "SELECT version FROM scim_users WHERE user_id = $1";

pub const INSERT_SCIM_USER: &str = "INSERT INTO scim_users (user_id, user_name, user_name_key, \
     external_id, display_name_key, resource, version, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) \
     RETURNING user_id, resource, version, created_at, updated_at";

pub const UPDATE_SCIM_USER: &str = "UPDATE scim_users SET user_name = $2, user_name_key = $3, \
     external_id = $4, display_name_key = $5, resource = $6, version = version + 1, \
     updated_at = $7 WHERE user_id = $1 \
     RETURNING user_id, resource, version, created_at, updated_at";

pub const DELETE_SCIM_USER: &str = "DELETE FROM scim_users WHERE user_id = $1";

/// `GET /Users`: `{condition}` is built by the SCIM filter translation from whitelisted
/// columns and placeholders from `$3` on; `$1` limit, `$2` offset.
pub const LIST_SCIM_USERS: &str = "SELECT user_id, resource, version, created_at, updated_at \
     FROM scim_users WHERE {condition} ORDER BY user_id LIMIT $1 OFFSET $2";

/// The count of the same condition; `$1` and `$2` are unused (0) so placeholders match.
pub const COUNT_SCIM_USERS: &str =
    "SELECT COUNT(*) FROM scim_users WHERE {condition} AND $1 = 0 AND $2 = 0";

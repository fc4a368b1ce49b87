//! SQL text of console links and sessions (see `console.rs`).

pub const INSERT_LINK: &str = "INSERT INTO console_links (token_hash, user_id, created_at, \
     expires_at) VALUES ($1, $2, $3, $4)";

/// An unused link, locked; `$2` is now.
pub const OPEN_LINK: &str = "SELECT user_id FROM console_links \
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2";

pub const USE_LINK: &str = "UPDATE console_links SET used_at = $2 WHERE token_hash = $1";

pub const INSERT_SESSION: &str = "INSERT INTO console_sessions (token_hash, user_id, \
     csrf_token, method, created_at, last_seen_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $5, $6)";

pub const SESSION: &str = "SELECT user_id, csrf_token, method, created_at, last_seen_at, \
     expires_at FROM console_sessions WHERE token_hash = $1";

pub const TOUCH_SESSION: &str =
    "UPDATE console_sessions SET last_seen_at = $2 WHERE token_hash = $1";

pub const DELETE_SESSION: &str = "DELETE FROM console_sessions WHERE token_hash = $1";

/// Every session of a user (its deactivation ends them).
pub const DELETE_SESSIONS_OF_USER: &str = "DELETE FROM console_sessions WHERE user_id = $1";

pub const INSERT_OIDC_LOGIN: &str = "INSERT INTO console_oidc_logins (state_hash, nonce, \
     code_verifier, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";

/// Takes a sign-in in flight: it is good once.
pub const OIDC_LOGIN_EXISTS: &str =
    "SELECT state_hash FROM console_oidc_logins WHERE state_hash = $1";

pub const TAKE_OIDC_LOGIN: &str = "DELETE FROM console_oidc_logins WHERE state_hash = $1 \
     RETURNING nonce, code_verifier, expires_at";

/// Links and sessions past their time; `$1` is now.
pub const PRUNE_LINKS: &str = "DELETE FROM console_links WHERE expires_at < $1";
pub const PRUNE_SESSIONS: &str = "DELETE FROM console_sessions WHERE expires_at < $1";
pub const PRUNE_OIDC_LOGINS: &str = "DELETE FROM console_oidc_logins WHERE expires_at < $1";

-- The console's OpenID Connect sign-ins in flight (sqlite): what the callback needs to finish one
-- (OpenID Connect Core §3.1.2.1 nonce, RFC 7636 code verifier), keyed by the SHA-256 of the
-- state value, so that any instance can finish a sign-in another one started. A row is
-- deleted when its callback arrives (each state is good once) or when it expires.
CREATE TABLE console_oidc_logins (
    state_hash    TEXT PRIMARY KEY,
    nonce         TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);

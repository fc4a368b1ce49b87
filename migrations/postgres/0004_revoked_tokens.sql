-- Revoked access tokens (RFC 7009), remembered until they would have expired (PostgreSQL).
CREATE TABLE revoked_tokens (
    jti         TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    client_id   TEXT,                 -- the revoking client; NULL when revoked by an operator
    revoked_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL  -- forgotten after this
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);

-- Revoked access tokens (RFC 7009), remembered until they would have expired (SQLite).
CREATE TABLE revoked_tokens (
    jti         TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    client_id   TEXT,            -- the revoking client; NULL when revoked by an operator
    revoked_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL    -- forgotten after this
);

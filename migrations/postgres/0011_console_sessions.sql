-- The web console's sign-in (postgres): one-time links (keymint console link) and sessions,
-- in the database so that every instance serves every session. Only SHA-256 hashes of
-- the link and session tokens are stored. A session is honoured only while its user is
-- active; deactivating the user also deletes its sessions in the same transaction.
CREATE TABLE console_links (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

CREATE TABLE console_sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    csrf_token   TEXT NOT NULL,              -- sent in every form, compared on each POST
    method       TEXT NOT NULL,              -- link or oidc
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL                -- the absolute timeout
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);

-- Users mirrored from the directory and their API keys (SQLite).
CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    email           TEXT,
    service_account BOOLEAN NOT NULL DEFAULT FALSE,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    permissions     TEXT NOT NULL DEFAULT '[]',  -- JSON array, sorted
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE api_keys (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- listing order and page cursor
    id              TEXT NOT NULL UNIQUE,
    client_id       TEXT NOT NULL UNIQUE,
    secret_hash     TEXT NOT NULL,                      -- argon2id PHC string
    environment     TEXT NOT NULL,
    owner_id        TEXT NOT NULL REFERENCES users (id),
    permissions     TEXT NOT NULL,                      -- frozen at creation
    enabled         BOOLEAN NOT NULL,
    disabled_reason TEXT,
    name            TEXT,
    expires_at      TEXT,
    etag            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE INDEX api_keys_owner ON api_keys (owner_id);
CREATE INDEX api_keys_environment ON api_keys (environment, seq);

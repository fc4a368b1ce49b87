-- Audit trail, change feed and webhook de-duplication (SQLite).
-- keymint_user_events exists only on PostgreSQL: it is how other systems on the same
-- database send user events; on SQLite the webhook and the CLI are the sources.

CREATE TABLE audit_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    at              TEXT NOT NULL,
    action          TEXT NOT NULL,   -- key.created, key.disabled, user.deactivated, ...
    environment     TEXT,
    client_id       TEXT,
    user_id         TEXT,            -- the key's owner or the user concerned
    actor_user_id   TEXT,
    actor_client_id TEXT,
    source          TEXT NOT NULL,   -- cli, webhook, table, graphql
    request_id      TEXT,
    reason          TEXT
);
CREATE INDEX audit_events_client ON audit_events (client_id, seq);
CREATE INDEX audit_events_user ON audit_events (user_id, seq);

-- Every key or user change appends a row here in the change's own transaction; every
-- instance follows it to invalidate what it keeps in memory.
CREATE TABLE keymint_changes (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,           -- key | user
    subject TEXT NOT NULL            -- client id | user id
);

-- Standard Webhooks ids already applied, kept well past the 5-minute replay window.
CREATE TABLE processed_webhooks (
    id          TEXT PRIMARY KEY,
    received_at TEXT NOT NULL
);

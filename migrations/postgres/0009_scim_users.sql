-- Users provisioned through SCIM 2.0 (postgres): the resource as the directory last sent it
-- (attributes Keymint does not use included), beside the Keymint user it provisions. The
-- SCIM id is the Keymint user id; deleting the SCIM resource deletes this row only (the
-- user, deactivated, its keys and its audit trail remain).
CREATE TABLE scim_users (
    user_id       TEXT PRIMARY KEY REFERENCES users (id),
    user_name     TEXT NOT NULL,
    user_name_key TEXT NOT NULL UNIQUE,  -- userName lowercased: unique, case-insensitive
    external_id   TEXT,
    display_name_key TEXT,               -- displayName lowercased, for filters
    resource      TEXT NOT NULL,         -- JSON, without id and meta
    version       BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX scim_users_external_id ON scim_users (external_id);

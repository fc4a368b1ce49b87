-- Groups provisioned through SCIM 2.0 and the permissions ops map to group names (postgres).
-- A user's current permissions are its own (users.permissions: roles and entitlements,
-- or what the webhook, table or CLI upserted) together with users.group_permissions, the
-- union of the mapped permissions of its groups, recomputed by every write that changes a
-- membership, a group's name or a mapping, in that write's transaction.
ALTER TABLE users ADD COLUMN group_permissions TEXT NOT NULL DEFAULT '[]';

CREATE TABLE scim_groups (
    id               TEXT PRIMARY KEY,          -- assigned by Keymint
    display_name     TEXT NOT NULL,
    display_name_key TEXT NOT NULL UNIQUE,      -- displayName lowercased: the mapping key
    external_id      TEXT,
    resource         TEXT NOT NULL,             -- JSON, without id, meta and members
    version          BIGINT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX scim_groups_external_id ON scim_groups (external_id);

CREATE TABLE scim_group_members (
    group_id TEXT NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX scim_group_members_user ON scim_group_members (user_id);

-- Kept by ops (keymint groups set-permissions, GraphQL setGroupPermissions), by group
-- name, whether or not the directory has pushed that group yet.
CREATE TABLE group_permissions (
    name_key    TEXT PRIMARY KEY,               -- group displayName lowercased
    name        TEXT NOT NULL,                  -- as ops wrote it
    permissions TEXT NOT NULL,                  -- JSON array, sorted
    updated_at  TIMESTAMPTZ NOT NULL
);
